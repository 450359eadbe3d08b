//! The proxmox backend end to end: the real router, app, store and operation engine driving
//! the PVE test double (a 3-node cluster over HTTPS with a pinned certificate), including
//! offline mode (`X-Cache-Status: STALE`, writes 503) and PVE's failures.

use crate::common;

use std::time::Duration;

use axum::http::StatusCode;
use berth_proxmox::client::CreateContainer;
use berth_proxmox::double::{Double, DoubleConfig, NodeSpec};
use common::{SimDaemon, TestResult};
use serde_json::{Value, json};

/// pve1 (16 GiB, 4 used), pve2 (32 GiB, 6 used), pve3 (64 GiB, offline).
pub(crate) async fn cluster(task_time: Duration) -> Double {
    let mut pve3 = NodeSpec::new("pve3", 64, 1);
    pve3.online = false;
    Double::start(DoubleConfig {
        nodes: vec![
            NodeSpec::new("pve1", 16, 4),
            NodeSpec::new("pve2", 32, 6),
            pve3,
        ],
        task_time,
        ..DoubleConfig::default()
    })
    .await
    .expect("double starts")
}

/// The cache's time to live in these tests; `past_ttl` waits it out.
pub(crate) const TTL_MS: u64 = 1000;

pub(crate) async fn past_ttl() {
    tokio::time::sleep(Duration::from_millis(TTL_MS + 100)).await;
}

async fn daemon(double: &Double) -> Result<SimDaemon, Box<dyn std::error::Error>> {
    daemon_with(double, &[]).await
}

/// A sim daemon with `[proxmox]` pointing at `double`; `extra` adds or replaces settings.
pub(crate) async fn daemon_with(
    double: &Double,
    extra: &[(&str, String)],
) -> Result<SimDaemon, Box<dyn std::error::Error>> {
    let mut env = vec![
        ("BERTH_PROXMOX__URL", double.url()),
        ("BERTH_PROXMOX__TOKEN_ID", double.token_id().to_owned()),
        (
            "BERTH_PROXMOX__TOKEN_SECRET",
            double.token_secret().to_owned(),
        ),
        (
            "BERTH_PROXMOX__FINGERPRINT",
            double.fingerprint().to_owned(),
        ),
        ("BERTH_PROXMOX__TIMEOUT_MS", "1000".into()),
        ("BERTH_PROXMOX__CACHE_TTL_MS", TTL_MS.to_string()),
        ("BERTH_PROXMOX__TASK_POLL_MS", "20".into()),
    ];
    for (key, value) in extra {
        env.retain(|(k, _)| k != key);
        env.push((key, value.clone()));
    }
    SimDaemon::start_with(&[], &env).await
}

pub(crate) async fn launch(
    d: &SimDaemon,
    body: Value,
) -> Result<Value, Box<dyn std::error::Error>> {
    let (status, accepted) = d.call("POST", "/api/v1/instances", body).await?;
    assert_eq!(status, StatusCode::ACCEPTED, "{accepted}");
    d.wait(&accepted).await
}

pub(crate) async fn get(
    d: &SimDaemon,
    path: &str,
) -> Result<(StatusCode, Option<String>, Value), Box<dyn std::error::Error>> {
    let socket = berthd::api::Transport::Socket {
        uid: 0,
        admitted: true,
    };
    let (status, headers, body) = d.request(socket, &[], "GET", path, Value::Null).await?;
    let cache = headers
        .get("x-cache-status")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    Ok((status, cache, body))
}

#[tokio::test]
async fn launch_power_snapshot_delete_through_pve() -> TestResult {
    let pve = cluster(Duration::from_millis(120)).await;
    let d = daemon(&pve).await?;
    let op = launch(
        &d,
        json!({"name": "web1", "image": "debian/12", "backend": "proxmox", "password": "Correct-Horse-9",
               "ssh_keys": ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGbl8f6yP2N1PRxGx2D9rG3m0Yb3dO8bS4w3E6iSx0rN t@h"],
               "limits": {"cpu": 1.5, "memory": 1073741824, "disk": 4294967296u64}}),
    )
    .await?;
    assert_eq!(op["status"], "success", "{op}");
    assert_eq!(op["progress"], 100);
    assert_eq!(op["steps"][1]["status"], "done", "{op}");
    assert!(
        op["steps"][1]["message"]
            .as_str()
            .unwrap_or("")
            .starts_with("proxmox: "),
        "{op}"
    );
    assert_eq!(op["steps"][2]["status"], "skipped");

    let cts = pve.containers();
    assert_eq!(cts.len(), 1);
    let ct = &cts[0];
    assert_eq!(
        (ct.hostname.as_str(), ct.node.as_str(), ct.status.as_str()),
        ("web1", "pve2", "running")
    );
    assert_eq!(ct.config.get("cores").map(String::as_str), Some("2"));
    assert_eq!(ct.config.get("cpulimit").map(String::as_str), Some("1.5"));
    assert_eq!(ct.config.get("memory").map(String::as_str), Some("1024"));
    assert_eq!(
        ct.config.get("rootfs").map(String::as_str),
        Some("local-lvm:4")
    );
    assert_eq!(ct.config.get("tags").map(String::as_str), Some("berth"));

    let (status, cache, web1) = get(&d, "/api/v1/instances/web1").await?;
    assert_eq!(status, StatusCode::OK);
    // Its history is PVE's rrddata, in Berth's shape (cpu as percent of one core).
    let (status, _, history) =
        get(&d, "/api/v1/instances/web1/metrics?timeframe=day&cf=max").await?;
    assert_eq!(status, StatusCode::OK, "{history}");
    assert_eq!(history["timeframe"], "day");
    assert_eq!(history["resolution"], 1800, "{history}");
    let points = history["points"].as_array().ok_or("no points")?;
    assert!(!points.is_empty());
    assert!(
        points
            .iter()
            .all(|p| p["cpu_percent"].as_f64().is_some_and(|c| c > 0.0))
    );
    assert!(
        points
            .iter()
            .all(|p| p["memory_limit_bytes"].as_f64() == Some(1073741824.0)),
        "{}",
        points[0]
    );
    assert_eq!(
        (web1["state"].as_str(), web1["node"].as_str()),
        (Some("running"), Some("pve2"))
    );
    assert!(
        matches!(cache.as_deref(), Some("MISS" | "HIT")),
        "{cache:?}"
    );
    assert_eq!(
        web1["cache"],
        cache.as_deref().unwrap_or_default().to_lowercase()
    );

    for (verb, state) in [
        ("stop", "stopped"),
        ("start", "running"),
        ("suspend", "suspended"),
        ("resume", "running"),
        ("restart", "running"),
    ] {
        let (status, body) = d
            .call(
                "POST",
                &format!("/api/v1/instances/web1/{verb}"),
                Value::Null,
            )
            .await?;
        assert_eq!(status, StatusCode::ACCEPTED, "{verb}: {body}");
        d.wait_success(&body).await?;
        // No wait: a write makes the next read go to PVE.
        let (_, _, web1) = get(&d, "/api/v1/instances/web1").await?;
        assert_eq!(web1["state"], state, "after {verb}");
    }

    let (status, body) = d
        .call(
            "PATCH",
            "/api/v1/instances/web1",
            json!({"limits": {"cpu": 3, "memory": 2147483648u64}}),
        )
        .await?;
    assert_eq!(status, StatusCode::OK, "{body}");
    let ct = &pve.containers()[0];
    assert_eq!(
        (ct.config["cores"].as_str(), ct.config["memory"].as_str()),
        ("3", "2048")
    );
    assert_eq!(ct.config["cpulimit"], "0", "whole cores: no time limit");
    let (status, body) = d
        .call(
            "PATCH",
            "/api/v1/instances/web1",
            json!({"limits": {"disk": 8589934592u64}}),
        )
        .await?;
    assert_eq!(
        (status, body["error"]["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("limits.disk"))
    );

    let (status, body) = d
        .call(
            "POST",
            "/api/v1/instances/web1/snapshots",
            json!({"name": "before-upgrade"}),
        )
        .await?;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    d.wait_success(&body).await?;
    assert_eq!(pve.containers()[0].snapshots[0].0, "before-upgrade");
    let (status, body) = d
        .call(
            "POST",
            "/api/v1/instances/web1/snapshots/before-upgrade/restore",
            Value::Null,
        )
        .await?;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    d.wait_success(&body).await?;
    let (status, body) = d
        .call(
            "DELETE",
            "/api/v1/instances/web1/snapshots/before-upgrade",
            Value::Null,
        )
        .await?;
    assert!(status.is_success(), "{status} {body}");
    assert!(pve.containers()[0].snapshots.is_empty());

    let (status, body) = d
        .call("DELETE", "/api/v1/instances/web1", json!({"force": true}))
        .await?;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    d.wait_success(&body).await?;
    assert!(
        pve.containers().is_empty(),
        "the PVE container is destroyed"
    );
    let (status, _, _) = get(&d, "/api/v1/instances/web1").await?;
    assert_eq!(status, StatusCode::NOT_FOUND);
    Ok(())
}

#[tokio::test]
async fn offline_reads_are_stale_and_writes_503() -> TestResult {
    let pve = cluster(Duration::from_millis(60)).await;
    let d = daemon(&pve).await?;
    let op = launch(
        &d,
        json!({"name": "db1", "image": "debian/12", "backend": "proxmox", "node": "pve1"}),
    )
    .await?;
    assert_eq!(op["status"], "success", "{op}");
    assert_eq!(pve.containers()[0].node, "pve1", "the chosen node");

    pve.set_down(true);
    let (status, cache, db1) = get(&d, "/api/v1/instances/db1").await?;
    assert_eq!(
        (status, cache.as_deref()),
        (StatusCode::OK, Some("STALE")),
        "{db1}"
    );
    assert_eq!(
        (db1["state"].as_str(), db1["cache"].as_str()),
        (Some("running"), Some("stale"))
    );
    let (status, cache, list) = get(&d, "/api/v1/instances").await?;
    assert_eq!((status, cache.as_deref()), (StatusCode::OK, Some("STALE")));
    assert_eq!(list[0]["name"], "db1");

    let (status, body) = d
        .call("POST", "/api/v1/instances/db1/stop", Value::Null)
        .await?;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["error"]["code"], "backend_unavailable");
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.starts_with(&format!("proxmox at {}: unreachable (", pve.url())),
        "{message}"
    );
    assert!(message.ends_with("try again when it is back"), "{message}");
    let (status, body) = d
        .call(
            "POST",
            "/api/v1/instances",
            json!({"name": "db2", "image": "debian/12", "backend": "proxmox"}),
        )
        .await?;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::SERVICE_UNAVAILABLE, Some("backend_unavailable"))
    );
    let (status, _, _) = get(&d, "/api/v1/instances/db2").await?;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "a refused write changes nothing"
    );

    pve.set_down(false);
    past_ttl().await;
    let (_, cache, db1) = get(&d, "/api/v1/instances/db1").await?;
    assert_eq!(cache.as_deref(), Some("MISS"), "{db1}");
    assert!(db1.get("cache").is_some_and(|c| c == "miss"));
    let (_, cache, _) = get(&d, "/api/v1/instances/db1").await?;
    assert_eq!(
        cache.as_deref(),
        Some("HIT"),
        "a second read within the TTL"
    );

    // The cluster answers but the node holding db1 is offline: its state is unknown.
    pve.set_node_online("pve1", false);
    past_ttl().await;
    let (_, cache, db1) = get(&d, "/api/v1/instances/db1").await?;
    assert_eq!(
        (cache.as_deref(), db1["state"].as_str()),
        (Some("STALE"), Some("running"))
    );
    Ok(())
}

#[tokio::test]
async fn pve_down_mid_create_fails_cleanly_then_reads_are_stale() -> TestResult {
    let pve = cluster(Duration::from_millis(60)).await;
    let d = daemon_with(&pve, &[("BERTH_PROXMOX__POLL_INTERVAL_MS", "200".into())]).await?;
    let op = launch(
        &d,
        json!({"name": "web0", "image": "debian/12", "backend": "proxmox", "start": false}),
    )
    .await?;
    assert_eq!(op["status"], "success", "{op}");
    pve.faults()
        .task_ms
        .store(1500, std::sync::atomic::Ordering::SeqCst);
    let (status, accepted) = d
        .call(
            "POST",
            "/api/v1/instances",
            json!({"name": "app1", "image": "debian/12", "backend": "proxmox"}),
        )
        .await?;
    assert_eq!(status, StatusCode::ACCEPTED, "{accepted}");
    // PVE goes down once it has accepted the create, while its task runs.
    for _ in 0..500 {
        if pve.containers().iter().any(|c| c.hostname == "app1") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    pve.set_down(true);
    let op = d.wait(&accepted).await?;
    assert_eq!(op["status"], "failure", "{op}");
    let error = op["error"].as_str().unwrap_or_default();
    assert!(
        error.contains("proxmox at") && error.contains("unreachable"),
        "{error}"
    );
    let (status, cache, list) = get(&d, "/api/v1/instances").await?;
    assert_eq!((status, cache.as_deref()), (StatusCode::OK, Some("STALE")));
    let names: Vec<&str> = list
        .as_array()
        .map(|l| l.iter().filter_map(|i| i["name"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(names, ["web0"], "the half-made instance is gone from Berth");
    assert_eq!(list[0]["state"], "stopped");
    assert!(
        pve.containers().iter().any(|c| c.hostname == "app1"),
        "PVE still holds (and goes on creating) app1"
    );

    // Once PVE answers again, the undo that could not reach it runs: when PVE's task has
    // finished (the container is locked until then), within a poll interval it is gone.
    pve.set_down(false);
    let mut left = true;
    for _ in 0..200 {
        left = pve.containers().iter().any(|c| c.hostname == "app1");
        if !left {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        !left,
        "the container PVE finished is removed: {:?}",
        pve.containers()
    );
    assert!(
        pve.containers().iter().any(|c| c.hostname == "web0"),
        "nothing else is touched"
    );
    let op = launch(
        &d,
        json!({"name": "app1", "image": "debian/12", "backend": "proxmox", "start": false}),
    )
    .await?;
    assert_eq!(op["status"], "success", "the name is free again: {op}");

    // A container of that name Berth did not make is named, never removed.
    let admin = crate::proxmox_live::pve_admin(&pve)?;
    let upid = admin
        .create_container(
            "pve1",
            &CreateContainer {
                vmid: 150,
                ostemplate: "local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst".into(),
                hostname: "app2".into(),
                password: None,
                ssh_public_keys: None,
                cores: None,
                cpulimit: None,
                memory: None,
                swap: None,
                rootfs: None,
                net0: None,
                unprivileged: true,
                features: None,
                tags: Some("berth".into()),
                description: Some("made by hand".into()),
                arch: None,
            },
        )
        .await?;
    crate::proxmox_live::done(&admin, upid).await?;
    let op = launch(
        &d,
        json!({"name": "app2", "image": "debian/12", "backend": "proxmox"}),
    )
    .await?;
    let error = op["error"].as_str().unwrap_or_default();
    assert!(
        error.contains("already has a container app2 (CT 150 on pve1)")
            && error.contains("pct destroy 150"),
        "{error}"
    );
    tokio::time::sleep(Duration::from_millis(600)).await; // a few poll intervals
    assert!(
        pve.containers().iter().any(|c| c.vmid == 150),
        "a container Berth did not make is left alone"
    );
    Ok(())
}

#[tokio::test]
async fn pve_errors_name_the_backend_and_cause() -> TestResult {
    let pve = cluster(Duration::from_millis(60)).await;
    let d = daemon(&pve).await?;

    pve.fail_next_task("unable to create CT 100 - no space left on device");
    let op = launch(
        &d,
        json!({"name": "c1", "image": "debian/12", "backend": "proxmox"}),
    )
    .await?;
    assert_eq!(op["status"], "failure");
    let error = op["error"].as_str().unwrap_or_default();
    assert!(
        error.contains("proxmox task UPID:pve2:") && error.contains("no space left on device"),
        "{error}"
    );

    let op = launch(
        &d,
        json!({"name": "c2", "image": "ubuntu/20.04", "backend": "proxmox"}),
    )
    .await?;
    let error = op["error"].as_str().unwrap_or_default();
    assert!(
        error.contains("has no template ubuntu-20.04-standard_"),
        "{error}"
    );

    let op = launch(
        &d,
        json!({"name": "c3", "image": "debian/12", "backend": "proxmox", "node": "pve3"}),
    )
    .await?;
    let error = op["error"].as_str().unwrap_or_default();
    assert!(
        error.contains("proxmox node \"pve3\" is offline"),
        "{error}"
    );

    let (status, body) = d
        .call(
            "POST",
            "/api/v1/instances",
            json!({"name": "c4", "image": "debian/12", "backend": "sim", "node": "pve1"}),
        )
        .await?;
    assert_eq!(
        (status, body["error"]["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("node"))
    );
    assert!(pve.containers().is_empty(), "nothing was left on PVE");
    let (_, list) = d.call("GET", "/api/v1/instances", Value::Null).await?;
    assert_eq!(list, json!([]));

    let op = launch(
        &d,
        json!({"name": "c5", "image": "debian/12", "backend": "proxmox", "start": false}),
    )
    .await?;
    assert_eq!(op["status"], "success", "{op}");
    pve.set_token_expired(true);
    let (status, body) = d
        .call("POST", "/api/v1/instances/c5/start", Value::Null)
        .await?;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("token refused") && message.contains("proxmox.token_id"),
        "{message}"
    );
    assert!(
        !body.to_string().contains(pve.token_secret()),
        "the secret is never returned"
    );
    Ok(())
}
