//! The proxmox backend while PVE misbehaves or changes behind Berth's back: a node that hangs
//! (accepts connections, never answers) slows no local read and costs a remote read at most
//! the read deadline; changes made in PVE itself (stopped, migrated, deleted) arrive on the
//! event stream within the poll interval.

use crate::common;
use crate::proxmox::{TTL_MS, cluster, daemon_with, get, launch, past_ttl};

use std::time::{Duration, Instant};

use axum::http::StatusCode;
use common::TestResult;
use serde_json::{Value, json};

/// The read deadline in these tests; the client's own timeout is far longer.
const DEADLINE_MS: u64 = 800;

#[tokio::test]
async fn a_hanging_node_slows_no_local_read_and_remote_reads_go_stale() -> TestResult {
    let pve = cluster(Duration::from_millis(60)).await;
    let d = daemon_with(
        &pve,
        &[
            ("BERTH_PROXMOX__TIMEOUT_MS", "30000".into()),
            ("BERTH_PROXMOX__READ_DEADLINE_MS", DEADLINE_MS.to_string()),
        ],
    )
    .await?;
    let op = launch(
        &d,
        json!({"name": "hung1", "image": "debian/12", "backend": "proxmox"}),
    )
    .await?;
    assert_eq!(op["status"], "success", "{op}");
    d.launch("local1").await?;

    pve.set_hang(true);
    past_ttl().await;
    // A local instance never asks PVE.
    let started = Instant::now();
    let (status, cache, local) = get(&d, "/api/v1/instances/local1").await?;
    assert!(
        started.elapsed() < Duration::from_millis(300),
        "{:?}",
        started.elapsed()
    );
    assert_eq!((status, cache), (StatusCode::OK, None), "{local}");
    assert_eq!(local["state"], "running");

    // The list waits at most the deadline for PVE, then answers from the cache.
    let started = Instant::now();
    let (status, cache, list) = get(&d, "/api/v1/instances").await?;
    let took = started.elapsed();
    assert!(
        took < Duration::from_millis(DEADLINE_MS + 700),
        "the list took {took:?}"
    );
    assert_eq!((status, cache.as_deref()), (StatusCode::OK, Some("STALE")));
    let row = |name: &str| {
        list.as_array()
            .and_then(|l| l.iter().find(|i| i["name"] == name))
            .cloned()
            .unwrap_or(Value::Null)
    };
    assert_eq!(
        (
            row("hung1")["state"].as_str(),
            row("hung1")["cache"].as_str()
        ),
        (Some("running"), Some("stale")),
        "{list}"
    );
    assert_eq!(row("local1")["state"], "running", "{list}");
    assert!(row("local1").get("cache").is_none(), "{list}");

    // The refresh still hangs in the background: later reads do not wait again.
    for path in [
        "/api/v1/instances",
        "/api/v1/instances/hung1",
        "/api/v1/instances/local1",
    ] {
        let started = Instant::now();
        let (status, _, body) = get(&d, path).await?;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
        assert!(
            started.elapsed() < Duration::from_millis(300),
            "{path} took {:?}",
            started.elapsed()
        );
    }

    // Back: within a couple of TTLs reads are fresh again.
    pve.set_hang(false);
    let until = Instant::now() + Duration::from_millis(4 * TTL_MS + 2 * DEADLINE_MS);
    loop {
        let (_, cache, _) = get(&d, "/api/v1/instances/hung1").await?;
        if matches!(cache.as_deref(), Some("MISS" | "HIT")) {
            break;
        }
        assert!(Instant::now() < until, "still {cache:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(())
}
