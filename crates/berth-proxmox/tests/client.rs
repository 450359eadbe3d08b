//! The client against the PVE test double: every endpoint Berth uses, schema rejections in
//! PVE's shape, certificate pinning, token expiry, task failure, PVE going down mid-task, slow
//! answers and a 3-node cluster with one node offline.

use std::time::Duration;

use berth_proxmox::client::{CreateContainer, TaskProgress, tls};
use berth_proxmox::double::{Double, DoubleConfig, NodeSpec};
use berth_proxmox::{Client, ClientConfig, ProxmoxError, Secret, Trust};

const POLL: Duration = Duration::from_millis(20);

async fn double(config: DoubleConfig) -> Double {
    Double::start(config).await.expect("double starts")
}

fn client_for(double: &Double, timeout: Duration) -> Client {
    Client::new(ClientConfig {
        url: double.url(),
        token_id: double.token_id().to_owned(),
        token_secret: Secret::new(double.token_secret()),
        trust: Trust::Fingerprint(tls::parse_fingerprint(double.fingerprint()).expect("fp")),
        timeout,
    })
    .expect("client")
}

fn spec(vmid: u64, hostname: &str) -> CreateContainer {
    CreateContainer {
        vmid,
        ostemplate: "local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst".into(),
        hostname: hostname.into(),
        password: Some("$6$rounds=5000$salt$abcdefghijklmnopqrstuv".into()),
        ssh_public_keys: Some("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB test@example".into()),
        cores: Some(2),
        cpulimit: Some(1.5),
        memory: Some(1024),
        swap: Some(0),
        rootfs: Some("local-lvm:8".into()),
        net0: Some("name=eth0,bridge=vmbr0,ip=dhcp".into()),
        unprivileged: true,
        features: Some("nesting=1".into()),
        tags: Some("berth".into()),
        description: None,
        arch: None,
    }
}

async fn run(client: &Client, upid: berth_proxmox::Upid) -> Vec<TaskProgress> {
    let mut seen = Vec::new();
    client
        .wait_task(&upid, POLL, |p| seen.push(p))
        .await
        .expect("task succeeds");
    seen
}

#[tokio::test]
async fn every_endpoint_through_a_container_lifecycle() {
    let d = double(DoubleConfig::default()).await;
    let c = client_for(&d, Duration::from_secs(5));
    assert_eq!(c.version().await.expect("version")["release"], "8.3");
    let templates = c.templates("pve1", "local").await.expect("templates");
    assert!(
        templates
            .iter()
            .any(|t| t.volid.contains("debian-12-standard"))
    );
    let vmid = c.next_id().await.expect("nextid");
    assert_eq!(vmid, 100);

    let upid = c
        .create_container("pve1", &spec(vmid, "web1"))
        .await
        .expect("create");
    assert_eq!(upid.kind, "vzcreate");
    let progress = run(&c, upid).await;
    assert!(
        progress
            .iter()
            .any(|p| p.line.contains("extracting archive")),
        "{progress:?}"
    );
    assert!(
        progress.windows(2).all(|w| w[0].percent <= w[1].percent),
        "{progress:?}"
    );
    assert_eq!(progress.last().map(|p| p.percent), Some(100));
    assert_eq!(c.next_id().await.expect("nextid"), 101);

    let resources = c.resources(Some("vm")).await.expect("resources");
    let ct = resources
        .iter()
        .find(|r| r.vmid == Some(vmid))
        .expect("listed");
    assert_eq!(
        (ct.name.as_deref(), ct.status.as_deref()),
        (Some("web1"), Some("stopped"))
    );
    assert_eq!(ct.tags.as_deref(), Some("berth"));

    for (verb, state) in [
        ("start", "running"),
        ("suspend", "running"),
        ("resume", "running"),
        ("reboot", "running"),
        ("shutdown", "stopped"),
        ("start", "running"),
        ("stop", "stopped"),
    ] {
        let params: Vec<(&str, String)> = if verb == "shutdown" {
            vec![("timeout", "5".into()), ("forceStop", "1".into())]
        } else {
            vec![]
        };
        let upid = c.power("pve1", vmid, verb, &params).await.expect(verb);
        run(&c, upid).await;
        let status = c.container_status("pve1", vmid).await.expect("status");
        assert_eq!(status.status, state, "after {verb}");
    }

    c.set_config(
        "pve1",
        vmid,
        &[("cores", "4".into()), ("memory", "2048".into())],
    )
    .await
    .expect("config");
    let status = c.container_status("pve1", vmid).await.expect("status");
    assert_eq!(status.maxmem, Some(2048 << 20));

    let points = c
        .rrddata("pve1", vmid, "hour", "AVERAGE")
        .await
        .expect("rrd");
    assert_eq!(points.len(), 70);
    assert!(points.windows(2).all(|w| w[0].time < w[1].time));

    run(
        &c,
        c.create_snapshot("pve1", vmid, "before", Some("first"))
            .await
            .expect("snap"),
    )
    .await;
    let snaps = c.snapshots("pve1", vmid).await.expect("snapshots");
    assert_eq!(
        snaps.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(),
        ["before", "current"]
    );
    run(
        &c,
        c.rollback_snapshot("pve1", vmid, "before")
            .await
            .expect("rollback"),
    )
    .await;
    run(
        &c,
        c.delete_snapshot("pve1", vmid, "before")
            .await
            .expect("delsnap"),
    )
    .await;
    assert_eq!(c.snapshots("pve1", vmid).await.expect("snapshots").len(), 1);

    let term = c.termproxy("pve1", vmid).await.expect("termproxy");
    assert!(term.ticket.starts_with("PVEVNC:") && (5900..6000).contains(&term.port));

    run(&c, c.delete_container("pve1", vmid).await.expect("delete")).await;
    assert!(d.containers().is_empty());
    let gone = c.container_status("pve1", vmid).await.expect_err("gone");
    assert!(gone.is_not_found(), "{gone}");
    assert!(gone.to_string().contains("does not exist"), "{gone}");
}

fn params_error(err: ProxmoxError) -> std::collections::BTreeMap<String, String> {
    match err {
        ProxmoxError::Api {
            status: 400,
            errors,
            message,
            ..
        } => {
            assert_eq!(message, "Parameter verification failed.");
            errors
        }
        other => panic!("expected a 400 parameter error, got {other}"),
    }
}

#[tokio::test]
async fn requests_are_checked_against_the_pve_schema() {
    let d = double(DoubleConfig::default()).await;
    let c = client_for(&d, Duration::from_secs(5));
    let base = |extra: (&'static str, &str)| {
        vec![
            ("vmid", "100".to_owned()),
            (
                "ostemplate",
                "local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst".to_owned(),
            ),
            (extra.0, extra.1.to_owned()),
        ]
    };
    let unknown = c
        .call("POST", "/nodes/pve1/lxc", &base(("colour", "blue")))
        .await;
    let errors = params_error(unknown.expect_err("unknown parameter"));
    assert!(
        errors["colour"].contains("not defined in schema"),
        "{errors:?}"
    );

    let wrong_type = c
        .call("POST", "/nodes/pve1/lxc", &base(("memory", "lots")))
        .await;
    let errors = params_error(wrong_type.expect_err("wrong type"));
    assert_eq!(
        errors["memory"],
        "type check ('integer') failed - got 'lots'"
    );

    let below = c
        .call("POST", "/nodes/pve1/lxc", &base(("memory", "8")))
        .await;
    assert!(params_error(below.expect_err("minimum"))["memory"].contains("minimum"));

    let bad_host = c
        .call("POST", "/nodes/pve1/lxc", &base(("hostname", "bad_name")))
        .await;
    let err = bad_host.expect_err("bad hostname");
    assert!(
        err.to_string().contains("hostname: invalid format"),
        "{err}"
    );
    assert!(params_error(err)["hostname"].contains("valid DNS name"));

    let bad_net = c
        .call(
            "POST",
            "/nodes/pve1/lxc",
            &base(("net0", "name=eth0,colour=red")),
        )
        .await;
    assert!(params_error(bad_net.expect_err("bad net0"))["net0"].contains("colour"));

    let missing = c
        .call("POST", "/nodes/pve1/lxc", &[("vmid", "100".into())])
        .await;
    assert!(params_error(missing.expect_err("missing"))["ostemplate"].contains("missing"));

    let bad_enum = c.rrddata("pve1", 100, "fortnight", "AVERAGE").await;
    assert!(params_error(bad_enum.expect_err("enum"))["timeframe"].contains("enumeration"));

    let bad_vmid = c
        .call("GET", "/nodes/pve1/lxc/12/status/current", &[])
        .await;
    assert!(params_error(bad_vmid.expect_err("vmid"))["vmid"].contains("minimum"));
    assert!(
        d.containers().is_empty(),
        "a rejected request changes nothing"
    );

    let no_route = c
        .call("GET", "/nodes/pve1/teapot", &[])
        .await
        .expect_err("501");
    assert!(
        matches!(no_route, ProxmoxError::Api { status: 501, .. }),
        "{no_route}"
    );
}

#[tokio::test]
async fn a_wrong_fingerprint_is_refused() {
    let d = double(DoubleConfig::default()).await;
    let c = Client::new(ClientConfig {
        url: d.url(),
        token_id: d.token_id().into(),
        token_secret: Secret::new(d.token_secret()),
        trust: Trust::Fingerprint([0xAB; 32]),
        timeout: Duration::from_secs(5),
    })
    .expect("client");
    let err = c.version().await.expect_err("refused");
    assert!(matches!(err, ProxmoxError::Untrusted { .. }), "{err}");
    assert!(err.to_string().contains("is not the pinned AB:AB"), "{err}");
}

#[tokio::test]
async fn an_expired_token_is_a_401_naming_the_token() {
    let d = double(DoubleConfig::default()).await;
    let c = client_for(&d, Duration::from_secs(5));
    c.version().await.expect("works first");
    d.set_token_expired(true);
    let err = c.resources(None).await.expect_err("401");
    assert!(matches!(err, ProxmoxError::Unauthorized { .. }), "{err}");
    let text = err.to_string();
    assert!(
        text.contains("token refused (authentication failure)") && text.contains("expired"),
        "{text}"
    );
    assert!(!text.contains(d.token_secret()), "the secret never shows");
}

#[tokio::test]
async fn a_failed_task_surfaces_its_exit_status() {
    let d = double(DoubleConfig::default()).await;
    let c = client_for(&d, Duration::from_secs(5));
    d.fail_next_task("unable to create CT 100 - no space left on device");
    let upid = c
        .create_container("pve1", &spec(100, "web1"))
        .await
        .expect("accepted");
    let mut lines = Vec::new();
    let err = c
        .wait_task(&upid, POLL, |p| lines.push(p.line))
        .await
        .expect_err("task fails");
    match &err {
        ProxmoxError::TaskFailed { exitstatus, .. } => {
            assert_eq!(
                exitstatus,
                "unable to create CT 100 - no space left on device"
            )
        }
        other => panic!("expected TaskFailed, got {other}"),
    }
    assert!(
        lines.iter().any(|l| l.starts_with("TASK ERROR:")),
        "{lines:?}"
    );
    // PVE removes a half-made container.
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(d.containers().is_empty());
}

#[tokio::test]
async fn pve_going_down_mid_task_fails_cleanly_as_unreachable() {
    let d = double(DoubleConfig {
        task_time: Duration::from_secs(2),
        ..DoubleConfig::default()
    })
    .await;
    let c = client_for(&d, Duration::from_millis(500));
    let upid = c
        .create_container("pve1", &spec(100, "web1"))
        .await
        .expect("accepted");
    d.set_down(true);
    let err = c.wait_task(&upid, POLL, |_| {}).await.expect_err("down");
    assert!(err.is_unreachable(), "{err}");
    assert!(
        err.to_string()
            .starts_with(&format!("proxmox at {}: unreachable", d.url())),
        "{err}"
    );
    d.set_down(false);
    c.version().await.expect("back again");
}

#[tokio::test]
async fn slow_answers_time_out() {
    let d = double(DoubleConfig::default()).await;
    let c = client_for(&d, Duration::from_millis(200));
    d.set_slow(Duration::from_millis(600));
    let err = c.version().await.expect_err("times out");
    assert!(err.is_unreachable(), "{err}");
    assert!(err.to_string().contains("within 200 ms"), "{err}");
    d.set_slow(Duration::ZERO);
    c.version().await.expect("fast again");
}

#[tokio::test]
async fn three_nodes_one_offline() {
    let mut pve3 = NodeSpec::new("pve3", 64, 1);
    pve3.online = false;
    let d = double(DoubleConfig {
        nodes: vec![
            NodeSpec::new("pve1", 16, 4),
            NodeSpec::new("pve2", 32, 6),
            pve3,
        ],
        ..DoubleConfig::default()
    })
    .await;
    let c = client_for(&d, Duration::from_secs(5));
    let resources = c.resources(Some("node")).await.expect("nodes");
    assert_eq!(resources.len(), 3);
    let chosen = berth_proxmox::placement::choose_node(&resources, None).expect("placed");
    assert_eq!(chosen, "pve2", "pve3 has the most memory but is offline");
    let err = c.container_status("pve3", 100).await.expect_err("offline");
    assert!(
        matches!(err, ProxmoxError::Api { status: 595, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("offline"), "{err}");
}

#[tokio::test]
async fn the_console_goes_through_termproxy_and_vncwebsocket() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let d = double(DoubleConfig::default()).await;
    let c = client_for(&d, Duration::from_secs(5));
    run(
        &c,
        c.create_container("pve1", &spec(100, "web1"))
            .await
            .expect("create"),
    )
    .await;
    run(&c, c.power("pve1", 100, "start", &[]).await.expect("start")).await;
    let mut term = c.open_terminal("pve1", 100).await.expect("console");
    let mut seen = Vec::new();
    let mut buf = [0u8; 256];
    while !String::from_utf8_lossy(&seen).contains("web1 login: ") {
        let n = tokio::time::timeout(Duration::from_secs(5), term.output.read(&mut buf))
            .await
            .expect("banner in time")
            .expect("read");
        assert!(n > 0, "console closed early");
        seen.extend_from_slice(&buf[..n]);
    }
    term.resize.send((120, 40)).expect("resize");
    term.input.write_all(b"root\r").await.expect("keys");
    let mut echoed = Vec::new();
    while echoed.len() < 5 {
        let n = tokio::time::timeout(Duration::from_secs(5), term.output.read(&mut buf))
            .await
            .expect("echo in time")
            .expect("read");
        echoed.extend_from_slice(&buf[..n]);
    }
    assert_eq!(echoed, b"root\r");

    let wrong = c
        .call(
            "GET",
            "/nodes/pve1/lxc/100/vncwebsocket",
            &[("port", "5900".into())],
        )
        .await;
    let err = wrong.expect_err("vncticket is required");
    assert!(err.to_string().contains("vncticket"), "{err}");
}
