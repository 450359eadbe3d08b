//! Throttles through the real router on the sim backend: login failures slow the guessing
//! address only (nobody can lock a user out).

mod common;

use axum::http::StatusCode;
use berthd::api::Transport;
use common::{ADMIN_PASSWORD, SimDaemon, TestResult};
use serde_json::json;

fn from(ip: &str) -> Transport {
    Transport::Tcp {
        peer: format!("{ip}:40000").parse().expect("address"),
        tls: false,
    }
}

async fn login_from(
    d: &SimDaemon,
    ip: &str,
    user: &str,
    password: &str,
) -> Result<(StatusCode, Option<u64>), Box<dyn std::error::Error>> {
    let (status, headers, _) = d
        .request(
            from(ip),
            &[],
            "POST",
            "/api/v1/auth/login",
            json!({"username": user, "password": password}),
        )
        .await?;
    let retry = headers
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok());
    Ok((status, retry))
}

#[tokio::test]
async fn guessing_from_one_address_never_locks_the_user_out() -> TestResult {
    let d = SimDaemon::start(&[]).await?;
    for _ in 0..5 {
        let (status, _) = login_from(&d, "203.0.113.9", "admin", "Wrong-Guess-1").await?;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    // The guessing address waits, with Retry-After, even with the right password…
    let (status, retry) = login_from(&d, "203.0.113.9", "admin", ADMIN_PASSWORD).await?;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert!(retry.is_some_and(|r| (1..=10).contains(&r)), "{retry:?}");
    // …and the admin, from their own address, logs in at once.
    let (status, _) = login_from(&d, "192.0.2.10", "admin", ADMIN_PASSWORD).await?;
    assert_eq!(status, StatusCode::OK);

    // One address trying many usernames is throttled as an address.
    for i in 0..20 {
        let (status, _) = login_from(&d, "198.51.100.7", &format!("u{i}"), "Nope-123").await?;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "attempt {i}");
    }
    let (status, _) = login_from(&d, "198.51.100.7", "admin", ADMIN_PASSWORD).await?;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    let (status, _) = login_from(&d, "198.51.100.8", "admin", ADMIN_PASSWORD).await?;
    assert_eq!(status, StatusCode::OK);
    Ok(())
}
