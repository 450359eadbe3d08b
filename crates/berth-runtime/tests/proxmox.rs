//! The proxmox runtime against the PVE test double: create with placement and progress, the
//! `Runtime` verbs, limits, the console, and removal that is idempotent.

use std::time::Duration;

use berth_proxmox::client::tls::parse_fingerprint;
use berth_proxmox::double::{Double, DoubleConfig, NodeSpec};
use berth_proxmox::{ClientConfig, Secret, Trust};
use berth_runtime::proxmox::{ProxmoxRuntime, ProxmoxSettings};
use berth_runtime::{
    ContainerSpec, Placement, Progress, ProvisionRequest, RootfsSource, Runtime, RuntimeStatus,
};
use berth_types::metrics::{Cf, Timeframe};
use berth_types::{CacheStatus, ImageRef, InstanceName, Limits};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn runtime(double: &Double) -> ProxmoxRuntime {
    ProxmoxRuntime::new(ProxmoxSettings {
        client: ClientConfig {
            url: double.url(),
            token_id: double.token_id().into(),
            token_secret: Secret::new(double.token_secret()),
            trust: Trust::Fingerprint(parse_fingerprint(double.fingerprint()).expect("fp")),
            timeout: Duration::from_secs(2),
        },
        template_storage: "local".into(),
        rootfs_storage: "local-lvm".into(),
        bridge: "vmbr0".into(),
        node: None,
        unprivileged: true,
        cache_ttl: Duration::from_secs(60),
        task_poll: Duration::from_millis(20),
        read_deadline: Duration::from_secs(2),
        poll_interval: Duration::from_secs(10),
        ssh: None,
    })
    .expect("runtime")
}

fn spec(name: &InstanceName) -> ContainerSpec {
    ContainerSpec {
        name: name.clone(),
        rootfs: Default::default(),
        hostname: name.to_string(),
        limits: Limits::default(),
        state_dir: Default::default(),
        runtime: None,
        netns: None,
        security: Default::default(),
    }
}

#[tokio::test]
async fn create_run_console_resize_remove() {
    let mut pve2 = NodeSpec::new("pve2", 64, 1);
    pve2.online = false;
    let double = Double::start(DoubleConfig {
        nodes: vec![
            NodeSpec::new("pve1", 16, 2),
            pve2,
            NodeSpec::new("pve3", 32, 2),
        ],
        task_time: Duration::from_millis(80),
        ..DoubleConfig::default()
    })
    .await
    .expect("double");
    let rt = runtime(&double);
    let name = InstanceName::parse("web1").expect("name");
    let capabilities = rt.capabilities();
    assert_eq!(capabilities.rootfs, RootfsSource::Backend);
    assert_eq!(capabilities.placement, Placement::Remote);
    let lines = std::sync::Mutex::new(Vec::new());
    let placed = rt
        .provision(
            &ProvisionRequest {
                name: name.clone(),
                image: ImageRef::parse("debian/12").expect("image"),
                password_hash: Some("$6$salt$hash".into()),
                ssh_keys: vec![],
                limits: Limits {
                    memory: Some(512 << 20),
                    ..Limits::default()
                },
                node: None,
                instance_id: "id-1".into(),
                arch: None,
            },
            &|p: Progress| lines.lock().expect("lines").push((p.percent, p.line)),
        )
        .await
        .expect("created");
    assert_eq!(
        placed.node, "pve3",
        "the online node with the most free memory"
    );
    assert!(placed.summary.contains("pve3"), "{}", placed.summary);
    let lines = lines.into_inner().expect("lines");
    assert!(
        lines
            .iter()
            .any(|(_, l)| l.starts_with("extracting archive")),
        "{lines:?}"
    );
    assert_eq!(lines.last().map(|l| l.0), Some(100));

    assert_eq!(
        rt.status(&name).await.expect("status"),
        RuntimeStatus::Stopped
    );
    rt.start(&spec(&name)).await.expect("start");
    let seen = rt.observe(&name).await;
    assert!(
        matches!(seen.status, Ok(RuntimeStatus::Running { .. })),
        "{seen:?}"
    );
    assert_eq!(
        seen.freshness,
        Some(CacheStatus::Miss),
        "a write makes the next read go to PVE"
    );
    assert_eq!(rt.observe(&name).await.freshness, Some(CacheStatus::Hit));
    rt.probe().await.expect("PVE answers");
    rt.freeze(&name).await.expect("freeze");
    assert!(matches!(
        rt.status(&name).await,
        Ok(RuntimeStatus::Frozen { .. })
    ));
    rt.thaw(&name).await.expect("thaw");

    rt.update_limits(
        &name,
        &Limits {
            cpu: Some(2.0),
            memory: Some(1 << 30),
            ..Limits::default()
        },
    )
    .await
    .expect("limits");
    let ct = &double.containers()[0];
    assert_eq!(
        (ct.config["cores"].as_str(), ct.config["memory"].as_str()),
        ("2", "1024")
    );

    let day = rt
        .metrics_history(&name, Timeframe::Day, Cf::Max)
        .await
        .expect("rrddata");
    assert_eq!(day.points.len(), 70);
    assert!(
        day.points
            .iter()
            .all(|p| p.memory_limit_bytes == Some((1u64 << 30) as f64))
    );

    let mut console = rt.attach_console(&name).await.expect("console");
    let mut seen = Vec::new();
    let mut buf = [0u8; 256];
    while !String::from_utf8_lossy(&seen).contains("login: ") {
        let n = tokio::time::timeout(Duration::from_secs(5), console.output.read(&mut buf))
            .await
            .expect("in time")
            .expect("read");
        assert!(n > 0);
        seen.extend_from_slice(&buf[..n]);
    }
    console
        .resizer
        .as_ref()
        .expect("resizable")
        .resize(40, 120)
        .expect("resize");
    console.input.write_all(b"x").await.expect("key");
    let n = console.output.read(&mut buf).await.expect("echo");
    assert_eq!(&buf[..n], b"x");

    let exec = berth_runtime::ExecSpec {
        argv: vec!["true".into()],
        env: Default::default(),
        cwd: None,
        stdin: None,
        timeout: Duration::from_secs(1),
        output_cap: 1024,
    };
    let err = rt
        .exec(&name, &exec)
        .await
        .expect_err("no exec over the PVE API");
    assert!(err.to_string().contains("use ssh"), "{err}");

    rt.kill(&name).await.expect("stop");
    rt.remove(&name).await.expect("remove");
    assert!(double.containers().is_empty());
    rt.remove(&name).await.expect("removing again is fine");
}
