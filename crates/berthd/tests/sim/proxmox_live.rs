//! The proxmox backend while PVE misbehaves or changes behind Berth's back: a node that hangs
//! (accepts connections, never answers) slows no local read and costs a remote read at most
//! the read deadline; changes made in PVE itself (stopped, migrated, deleted) arrive on the
//! event stream within the poll interval.

use crate::proxmox::{TTL_MS, cluster, daemon_with, get, launch, past_ttl};
use crate::{common, events_support};

use std::time::{Duration, Instant};

use axum::http::StatusCode;
use berth_proxmox::client::tls::parse_fingerprint;
use berth_proxmox::double::Double;
use berth_proxmox::{Client, ClientConfig, Secret, Trust, Upid};
use common::{ADMIN_PASSWORD, TestResult};
use events_support::{Ws, is_lifecycle, read_until, subscribe};
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
        started.elapsed() < Duration::from_millis(500),
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
    // Where it runs stays known from the last read.
    assert_eq!(row("hung1")["vmid"], pve.containers()[0].vmid, "{list}");
    assert_eq!(row("hung1")["node"], pve.containers()[0].node, "{list}");
    assert!(row("local1").get("vmid").is_none(), "{list}");
    assert_eq!(row("local1")["node"], "local", "{list}");

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
            started.elapsed() < Duration::from_millis(500),
            "{path} took {:?}",
            started.elapsed()
        );
    }

    // A write on it is refused within the deadline too, saying why.
    let started = Instant::now();
    let (status, body) = d
        .call("POST", "/api/v1/instances/hung1/stop", Value::Null)
        .await?;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert!(
        started.elapsed() < Duration::from_millis(DEADLINE_MS + 700),
        "the refusal took {:?}",
        started.elapsed()
    );
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains(&format!("no answer within {DEADLINE_MS} ms")),
        "{message}"
    );

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

/// How often berthd follows PVE in the follow test.
const POLL_MS: u64 = 500;

/// Someone at the PVE UI: a client of the double's own API.
pub(crate) fn pve_admin(pve: &Double) -> Result<Client, Box<dyn std::error::Error>> {
    Ok(Client::new(ClientConfig {
        url: pve.url(),
        token_id: pve.token_id().into(),
        token_secret: Secret::new(pve.token_secret()),
        trust: Trust::Fingerprint(parse_fingerprint(pve.fingerprint())?),
        timeout: Duration::from_secs(5),
    })?)
}

/// Runs a PVE task to its end.
pub(crate) async fn done(client: &Client, upid: Upid) -> TestResult {
    client
        .wait_task(&upid, Duration::from_millis(20), |_| {})
        .await?;
    Ok(())
}

/// The lifecycle event `action` on `instance`, which must come within one poll interval
/// (plus a little for the read itself).
async fn within_interval(
    ws: &mut Ws,
    instance: &str,
    action: &str,
) -> Result<Value, Box<dyn std::error::Error>> {
    let deadline = Duration::from_millis(POLL_MS + 1000);
    let started = Instant::now();
    let events = tokio::time::timeout(
        deadline,
        read_until(ws, |e| is_lifecycle(e, instance, action)),
    )
    .await
    .map_err(|_| format!("no {action} event for {instance} within {deadline:?}"))?
    .map_err(|e| e.to_string())?;
    let event = events.last().cloned().unwrap_or_default();
    assert!(started.elapsed() <= deadline);
    assert_eq!(event["data"]["actor"], "berthd", "{event}");
    Ok(event)
}

#[tokio::test]
async fn changes_made_in_pve_arrive_as_events_within_the_poll_interval() -> TestResult {
    let pve = cluster(Duration::from_millis(60)).await;
    let d = daemon_with(
        &pve,
        &[("BERTH_PROXMOX__POLL_INTERVAL_MS", POLL_MS.to_string())],
    )
    .await?;
    let op = launch(
        &d,
        json!({"name": "moved1", "image": "debian/12", "backend": "proxmox", "node": "pve1"}),
    )
    .await?;
    assert_eq!(op["status"], "success", "{op}");
    let vmid = pve.containers()[0].vmid;
    let (_, _, body) = get(&d, "/api/v1/instances/moved1").await?;
    assert_eq!(
        (&body["vmid"], &body["node"]),
        (&json!(vmid), &json!("pve1")),
        "{body}"
    );
    let served = d.serve_tcp().await?;
    let admin = d.login("admin", ADMIN_PASSWORD).await?;
    let mut ws = subscribe(served.addr, "?types=lifecycle&instance=moved1", &admin)
        .await
        .map_err(|e| e.to_string())?;
    let ui = pve_admin(&pve)?;

    // Stopped in the PVE UI.
    done(&ui, ui.power("pve1", vmid, "stop", &[]).await?).await?;
    let event = within_interval(&mut ws, "moved1", "instance-stopped").await?;
    assert_eq!(event["data"]["state"], "stopped", "{event}");
    let (_, _, body) = get(&d, "/api/v1/instances/moved1").await?;
    assert_eq!(body["state"], "stopped");

    // Started there again, then migrated to pve2.
    done(&ui, ui.power("pve1", vmid, "start", &[]).await?).await?;
    within_interval(&mut ws, "moved1", "instance-started").await?;
    done(&ui, ui.migrate_container("pve1", vmid, "pve2").await?).await?;
    let event = within_interval(&mut ws, "moved1", "instance-migrated").await?;
    assert_eq!(
        (
            event["data"]["object"].as_str(),
            event["data"]["state"].as_str()
        ),
        (Some("pve2"), Some("running")),
        "{event}"
    );
    let (_, _, body) = get(&d, "/api/v1/instances/moved1").await?;
    assert_eq!(
        (&body["vmid"], &body["node"]),
        (&json!(vmid), &json!("pve2")),
        "{body}"
    );
    let (_, _, list) = get(&d, "/api/v1/instances").await?;
    assert_eq!(
        (&list[0]["vmid"], &list[0]["node"]),
        (&json!(vmid), &json!("pve2")),
        "{list}"
    );

    // Deleted in PVE: the instance is in error, saying why.
    done(&ui, ui.delete_container("pve2", vmid).await?).await?;
    let event = within_interval(&mut ws, "moved1", "instance-stopped").await?;
    assert_eq!(event["data"]["state"], "error", "{event}");
    let reason = event["data"]["reason"].as_str().unwrap_or_default();
    assert!(reason.contains("removed outside Berth"), "{reason}");
    let (_, _, body) = get(&d, "/api/v1/instances/moved1").await?;
    assert_eq!(body["state"], "error", "{body}");
    assert_eq!(body["state_reason"], reason, "{body}");

    // Berth's own delete still works on it (nothing left in PVE to remove).
    let (status, body) = d
        .call("DELETE", "/api/v1/instances/moved1", Value::Null)
        .await?;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    d.wait_success(&body).await?;
    Ok(())
}

#[tokio::test]
async fn an_unconfigured_proxmox_is_listed_as_unusable_with_what_to_do() -> TestResult {
    let reason = "not configured: add a [proxmox] section";
    let d = common::SimDaemon::start(&[]).await?;
    let (status, system) = d.call("GET", "/api/v1/system", Value::Null).await?;
    assert_eq!(status, StatusCode::OK, "{system}");
    let backends = system["backends"].as_array().ok_or("backends")?;
    let proxmox = backends
        .iter()
        .find(|b| b["name"] == "proxmox")
        .ok_or("proxmox is listed")?;
    assert_eq!(
        (proxmox["usable"].as_bool(), proxmox["reason"].as_str()),
        (Some(false), Some(reason)),
        "{system}"
    );
    let names: Vec<&str> = backends.iter().filter_map(|b| b["name"].as_str()).collect();
    assert!(names.is_sorted(), "{names:?}");
    let (_, ready) = d.call("GET", "/readyz", Value::Null).await?;
    let check = ready["checks"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["name"] == "backend:proxmox"))
        .cloned()
        .unwrap_or_default();
    assert_eq!(check["ok"], false, "{ready}");
    // Asking for it says the same, naming the field.
    let (status, body) = d
        .call(
            "POST",
            "/api/v1/instances",
            json!({"name": "pve-less", "image": "debian/12", "backend": "proxmox"}),
        )
        .await?;
    assert_eq!(
        (status, body["error"]["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("backend")),
        "{body}"
    );
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(message.ends_with(reason), "{message}");

    // Configured, it is usable.
    let pve = cluster(Duration::from_millis(60)).await;
    let d = daemon_with(&pve, &[]).await?;
    let (_, system) = d.call("GET", "/api/v1/system", Value::Null).await?;
    assert!(
        system["backends"].as_array().is_some_and(|b| b
            .iter()
            .any(|b| b["name"] == "proxmox" && b["usable"] == true)),
        "{system}"
    );
    Ok(())
}
