//! The capacity left, through the API on the `sim` backend: `GET /system` names each limit and
//! the first one reached, `/readyz` answers without a credential, and a create that would take
//! an address the subnet no longer has is refused naming the limit and what raises it, changing
//! nothing. (inotify, memory and pids count only guests that really run here: tests/lifecycle.rs
//! and bench/density.sh launch those.)

use crate::common;

use axum::http::StatusCode;
use common::{SimDaemon, TestResult};
use serde_json::{Value, json};

#[tokio::test]
async fn a_full_subnet_refuses_a_create_naming_the_limit() -> TestResult {
    // A /29: 8 addresses less network, gateway and broadcast.
    let d = SimDaemon::start_with_env(&[], &[("BERTH_NETWORK__IPV4", "10.88.0.1/29")]).await?;
    let (status, system) = d.call("GET", "/api/v1/system", Value::Null).await?;
    assert_eq!(status, StatusCode::OK, "{system}");
    let capacity = &system["capacity"];
    let names: Vec<&str> = capacity["limits"]
        .as_array()
        .ok_or("limits")?
        .iter()
        .filter_map(|l| l["name"].as_str())
        .collect();
    assert!(names.starts_with(&["addresses"]), "{capacity}");
    assert!(names.contains(&"memory"), "{capacity}");
    assert_eq!(capacity["limited_by"], "addresses", "{capacity}");
    assert_eq!(capacity["guests_left"], 5, "{capacity}");

    for i in 0..5 {
        d.launch(&format!("cap{i}")).await?;
    }
    let (_, system) = d.call("GET", "/api/v1/system", Value::Null).await?;
    assert_eq!(system["capacity"]["guests_left"], 0, "{system}");
    let warnings = system["capacity"]["warnings"].to_string();
    assert!(warnings.contains("addresses"), "{warnings}");

    let (status, body) = d
        .call(
            "POST",
            "/api/v1/instances",
            json!({"name": "cap5", "image": "debian/12"}),
        )
        .await?;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("addresses"), "{message}");
    assert!(message.contains("[network] ipv4"), "{message}");
    let (status, _) = d.call("GET", "/api/v1/instances/cap5", Value::Null).await?;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "a refused create leaves nothing"
    );

    // A stopped guest may start again: a start takes no new address.
    let (status, body) = d
        .call(
            "POST",
            "/api/v1/instances/cap0/stop",
            json!({"force": true}),
        )
        .await?;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    d.wait_success(&body).await?;
    let (status, body) = d
        .call("POST", "/api/v1/instances/cap0/start", json!({}))
        .await?;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    d.wait_success(&body).await?;
    Ok(())
}

#[tokio::test]
async fn readyz_answers_anyone_with_each_check_and_the_room_left() -> TestResult {
    let d = SimDaemon::start_with_env(&[], &[("BERTH_NETWORK__IPV4", "10.88.0.1/30")]).await?;
    // No credential: a TCP client that is not logged in.
    let (status, _, body) = d
        .request(common::tcp(), &[], "GET", "/readyz", Value::Null)
        .await?;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["ready"], true, "{body}");
    assert_eq!(body["guests_left"], 1, "{body}");
    let checks: Vec<&str> = body["checks"]
        .as_array()
        .ok_or("checks")?
        .iter()
        .filter_map(|c| c["name"].as_str())
        .collect();
    for part in ["store", "storage", "network", "backend:sim"] {
        assert!(checks.contains(&part), "{part} missing: {body}");
    }
    d.launch("only").await?;
    let (status, _, body) = d
        .request(common::tcp(), &[], "GET", "/readyz", Value::Null)
        .await?;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["limited_by"], "addresses", "{body}");
    Ok(())
}
