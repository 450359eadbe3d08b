//! What a proxmox instance is made with and what Berth remembers of it, against the PVE test
//! double: the architecture asked for reaches PVE's create (an unknown one is a 400 naming
//! `arch` and nothing is made), and a suspended instance is still `suspended` after a berthd
//! restart (PVE's status shows a frozen container as `running`).

use std::time::Duration;

use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::common::TestResult;
use crate::proxmox::{cluster, daemon_with, get, launch};

#[tokio::test]
async fn arch_is_passed_to_pve_and_a_bad_one_is_refused() -> TestResult {
    let pve = cluster(Duration::from_millis(40)).await;
    let d = daemon_with(&pve, &[]).await?;
    // arm64 on an amd64 host: the PVE node runs it, so this host's emulation is not asked.
    let op = launch(
        &d,
        json!({"name": "arm1", "image": "debian/12", "backend": "proxmox", "arch": "aarch64",
               "start": false}),
    )
    .await?;
    assert_eq!(op["status"], "success", "{op}");
    let op = launch(
        &d,
        json!({"name": "plain1", "image": "debian/12", "backend": "proxmox", "start": false}),
    )
    .await?;
    assert_eq!(op["status"], "success", "{op}");
    let arch_of = |hostname: &str| {
        pve.containers()
            .into_iter()
            .find(|c| c.hostname == hostname)
            .and_then(|c| c.config.get("arch").cloned())
    };
    assert_eq!(
        arch_of("arm1").as_deref(),
        Some("arm64"),
        "Berth's name mapped"
    );
    assert_eq!(
        arch_of("plain1").as_deref(),
        Some("amd64"),
        "none asked: the template's"
    );

    let (status, body) = d
        .call(
            "POST",
            "/api/v1/instances",
            json!({"name": "bad1", "image": "debian/12", "backend": "proxmox", "arch": "sparc64"}),
        )
        .await?;
    assert_eq!(
        (status, body["error"]["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("arch")),
        "{body}"
    );
    assert!(
        !pve.containers().iter().any(|c| c.hostname == "bad1"),
        "nothing is created"
    );
    let (status, _, _) = get(&d, "/api/v1/instances/bad1").await?;
    assert_eq!(status, StatusCode::NOT_FOUND);
    Ok(())
}

#[tokio::test]
async fn suspended_survives_a_berthd_restart() -> TestResult {
    let pve = cluster(Duration::from_millis(40)).await;
    let mut d = daemon_with(&pve, &[]).await?;
    let op = launch(
        &d,
        json!({"name": "frozen1", "image": "debian/12", "backend": "proxmox"}),
    )
    .await?;
    assert_eq!(op["status"], "success", "{op}");
    let (status, body) = d
        .call("POST", "/api/v1/instances/frozen1/suspend", Value::Null)
        .await?;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    d.wait_success(&body).await?;
    assert!(pve.containers()[0].frozen, "PVE froze it");

    d.restart().await?;
    let (status, _, one) = get(&d, "/api/v1/instances/frozen1").await?;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(one["state"], "suspended", "GET after a restart: {one}");
    let (_, _, list) = get(&d, "/api/v1/instances").await?;
    assert_eq!(
        list[0]["state"], "suspended",
        "list after a restart: {list}"
    );

    // Resumed through Berth after the restart: running again, in PVE too.
    let (status, body) = d
        .call("POST", "/api/v1/instances/frozen1/resume", Value::Null)
        .await?;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    d.wait_success(&body).await?;
    let (_, _, one) = get(&d, "/api/v1/instances/frozen1").await?;
    assert_eq!(one["state"], "running", "{one}");
    assert!(!pve.containers()[0].frozen);
    Ok(())
}
