//! The audit log against hostile input, through the real router on the sim backend: what an
//! unauthenticated caller sends is kept only as a bounded summary (method, route, address,
//! outcome), an authenticated body is redacted and capped, and the table stays under its caps
//! however many requests arrive, the oldest dropped first and counted.

use crate::common;

use axum::http::StatusCode;
use berthd::api::Transport;
use common::{ADMIN_PASSWORD, SimDaemon, TestResult};
use serde_json::{Value, json};

fn from(ip: &str) -> Transport {
    Transport::Tcp {
        peer: format!("{ip}:40000").parse().expect("address"),
        tls: false,
    }
}

async fn audit(d: &SimDaemon) -> Result<(Vec<Value>, u64), Box<dyn std::error::Error>> {
    let socket = Transport::Socket {
        uid: 0,
        admitted: true,
    };
    let (status, headers, body) = d
        .request(socket, &[], "GET", "/api/v1/audit?limit=1000", Value::Null)
        .await?;
    assert_eq!(status, StatusCode::OK, "{body}");
    let dropped = headers
        .get("x-audit-dropped")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .ok_or("X-Audit-Dropped")?;
    Ok((body.as_array().cloned().unwrap_or_default(), dropped))
}

#[tokio::test]
async fn unauthenticated_callers_leave_only_a_bounded_summary() -> TestResult {
    let d = SimDaemon::start(&[]).await?;
    let marker = "MARKER-from-the-attacker";
    let junk = format!("{marker}{}", "x".repeat(512 << 10));
    let agent = format!("{marker}-agent");
    let long_name = format!("{marker}-{}", "n".repeat(2000));
    let headers = [("user-agent".to_owned(), agent.clone())];
    // Writes of every kind an anonymous caller may try: a login with a huge username and
    // body, a refresh, and writes it is refused (401) with values in the path and the body.
    let attempts = [
        (
            "POST",
            "/api/v1/auth/login".to_owned(),
            json!({"username": junk, "password": junk}),
        ),
        (
            "POST",
            "/api/v1/auth/refresh".to_owned(),
            json!({"refresh_token": junk}),
        ),
        (
            "POST",
            "/api/v1/instances".to_owned(),
            json!({"name": junk, "extra": junk}),
        ),
        (
            "POST",
            format!("/api/v1/instances/{long_name}/exec"),
            json!({"command": [junk]}),
        ),
        ("DELETE", format!("/api/v1/tokens/{long_name}"), Value::Null),
    ];
    for (method, path, body) in &attempts {
        let (status, _, _) = d
            .request(from("203.0.113.5"), &headers, method, path, body.clone())
            .await?;
        assert!(status.is_client_error(), "{method} {path}: {status}");
    }
    let (entries, _) = audit(&d).await?;
    let anonymous: Vec<&Value> = entries
        .iter()
        .filter(|e| e["actor"] == "anonymous")
        .collect();
    assert_eq!(anonymous.len(), attempts.len(), "{entries:?}");
    for entry in anonymous {
        let text = entry.to_string();
        assert!(!text.contains(marker), "attacker input was stored: {text}");
        assert!(text.len() < 1024, "{} bytes for one summary", text.len());
        assert_eq!(entry["ip"], "203.0.113.5");
        assert_eq!(entry["user_agent"], Value::Null);
        assert_eq!(entry["target"], "");
        let keys: Vec<&String> = entry["params"]
            .as_object()
            .ok_or("params")?
            .keys()
            .collect();
        assert_eq!(keys, ["method", "path"], "{entry}");
        assert!(
            entry["result"]
                .as_str()
                .is_some_and(|r| r.starts_with("denied: ") || r.starts_with("failure: 4")),
            "{entry}"
        );
    }
    // A login that succeeds is recorded as the user it authenticated.
    d.login("admin", ADMIN_PASSWORD).await?;
    let (entries, _) = audit(&d).await?;
    let login = entries
        .iter()
        .find(|e| e["action"] == "auth.login" && e["result"] == "success");
    assert_eq!(login.map(|e| e["actor"].clone()), Some(json!("admin")));
    Ok(())
}

#[tokio::test]
async fn authenticated_bodies_are_redacted_and_capped() -> TestResult {
    let d = SimDaemon::start(&[]).await?;
    let admin = d.login("admin", ADMIN_PASSWORD).await?;
    let big = "y".repeat(600 << 10);
    let (status, _) = d
        .call_as(
            Some(&admin),
            "POST",
            "/api/v1/users",
            json!({"username": "carol", "password": "Very-Secret-Pass-9", "note": big,
                   "list": vec![1; 10_000]}),
        )
        .await?;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (entries, _) = audit(&d).await?;
    let entry = entries
        .iter()
        .find(|e| e["action"] == "user.create")
        .ok_or("user.create not audited")?;
    let params = entry["params"].to_string();
    assert!(
        params.len() <= 4096,
        "{} bytes of params stored",
        params.len()
    );
    assert!(!params.contains("Very-Secret-Pass-9"));
    assert!(entry["result"].as_str().is_some_and(|r| r.len() <= 512));
    Ok(())
}

#[tokio::test]
async fn a_flood_of_audited_requests_keeps_the_table_under_its_caps() -> TestResult {
    let d = SimDaemon::start_with_env(&[], &[("BERTH_AUTH__AUDIT_MAX_ENTRIES", "200")]).await?;
    for i in 0..1200u32 {
        // Unauthenticated writes are audited (and refused): the cheapest flood there is.
        let ip = format!("198.51.{}.{}", i / 250, i % 250 + 1);
        let (status, _, _) = d
            .request(
                from(&ip),
                &[],
                "POST",
                "/api/v1/tokens",
                json!({"name": "x"}),
            )
            .await?;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    let (entries, dropped) = audit(&d).await?;
    assert!(entries.len() <= 220, "{} entries kept", entries.len());
    assert!(entries.len() >= 150, "{} entries kept", entries.len());
    // The newest are kept; everything else was dropped, oldest first, and counted.
    assert_eq!(entries[0]["ip"], "198.51.4.200");
    assert_eq!(dropped, 1200 - entries.len() as u64, "{dropped}");
    let ids: Vec<i64> = entries.iter().filter_map(|e| e["id"].as_i64()).collect();
    assert!(
        ids.windows(2).all(|w| w[0] == w[1] + 1),
        "a gap: the newest were not kept whole"
    );
    Ok(())
}
