//! Throttles through the real router on the sim backend: login failures slow the guessing
//! address only (nobody can lock a user out), every expensive route is rate-limited per user
//! with 429 + Retry-After (users and admins configurable), and each account's WebSockets are
//! budgeted.

use crate::common;

use std::collections::BTreeSet;

use axum::http::StatusCode;
use berthd::api::Transport;
use berthd::api::throttle::EXPENSIVE;
use common::{ADMIN_PASSWORD, SimDaemon, TestResult};
use serde_json::{Value, json};

const ALICE_PW: &str = "Sails-Far-Northward-31";

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

#[tokio::test]
async fn the_throttle_table_covers_every_expensive_route() -> TestResult {
    let doc: Value = serde_json::from_str(&berthd::api::openapi::json())?;
    // Routes that answer 202 but cost nothing to speak of.
    let cheap: BTreeSet<(&str, &str)> = [("DELETE", "/api/v1/operations/{id}")].into();
    // Routes that run something in a guest or build something without answering 202.
    let also: BTreeSet<(&str, &str)> = [
        ("POST", "/api/v1/instances/{name}/exec"),
        ("GET", "/api/v1/instances/{name}/console"),
        ("POST", "/api/v1/instances/{name}/files"),
        ("POST", "/api/v1/run"),
        ("POST", "/api/v1/images/import"),
    ]
    .into();
    let listed: BTreeSet<(String, String)> = EXPENSIVE
        .iter()
        .map(|(m, p, _)| (m.to_string(), p.to_string()))
        .collect();
    let mut documented = BTreeSet::new();
    for (path, methods) in doc["paths"].as_object().ok_or("paths")? {
        for (method, op) in methods.as_object().ok_or("methods")? {
            let method = method.to_uppercase();
            documented.insert((method.clone(), path.clone()));
            let long = op["responses"].get("202").is_some();
            let key = (method.as_str(), path.as_str());
            if (long && !cheap.contains(&key)) || also.contains(&key) {
                assert!(
                    listed.contains(&(method.clone(), path.clone())),
                    "{method} {path} is expensive but not rate-limited (api/throttle.rs)"
                );
            }
        }
    }
    let stale: Vec<_> = listed.difference(&documented).collect();
    assert!(
        stale.is_empty(),
        "throttled routes that do not exist: {stale:?}"
    );
    Ok(())
}

#[tokio::test]
async fn every_listed_route_answers_429_with_retry_after_once_its_bucket_is_empty() -> TestResult {
    let env: Vec<(&str, String)> = [
        "BERTH_RATE_LIMITS__ADMIN__CREATE",
        "BERTH_RATE_LIMITS__ADMIN__IMAGE_BUILD",
        "BERTH_RATE_LIMITS__ADMIN__BACKUP",
        "BERTH_RATE_LIMITS__ADMIN__EXEC",
        "BERTH_RATE_LIMITS__ADMIN__OPERATION",
    ]
    .into_iter()
    .map(|key| (key, "1/hour".to_owned()))
    .collect();
    let d = SimDaemon::start_with(&[], &env).await?;
    let doc: Value = serde_json::from_str(&berthd::api::openapi::json())?;
    let mut seen = BTreeSet::new();
    for (method, template, class) in EXPENSIVE {
        // A name nobody has: the first call is refused by its handler (after taking a call
        // from the bucket), the second by the throttle, before any handler runs.
        let path = template
            .replace("{name}", "nosuch")
            .replace("{snap}", "nosnap");
        let body = if *method == "GET" {
            Value::Null
        } else {
            json!({"__x": 1})
        };
        // The body's media type as the route declares it (a wrong one is a 415 before this).
        let declared = doc["paths"][*template][method.to_lowercase()]["requestBody"]["content"]
            .as_object()
            .and_then(|types| types.keys().next().cloned());
        let headers: Vec<(String, String)> = declared
            .into_iter()
            .map(|t| ("content-type".to_owned(), t))
            .collect();
        let (first, _, _) = d
            .request(socket(), &headers, method, &path, body.clone())
            .await?;
        let (status, headers, answer) = d.request(socket(), &headers, method, &path, body).await?;
        if seen.insert(*class) {
            assert_ne!(first, StatusCode::TOO_MANY_REQUESTS, "{method} {path}");
        }
        assert_eq!(
            status,
            StatusCode::TOO_MANY_REQUESTS,
            "{method} {path}: {answer}"
        );
        assert!(headers.contains_key("retry-after"), "{method} {path}");
        assert_eq!(answer["error"]["code"], "rate_limited");
        assert!(
            answer["error"]["message"]
                .as_str()
                .is_some_and(|m| m.contains(class.noun())),
            "{answer}"
        );
    }
    Ok(())
}

fn socket() -> Transport {
    Transport::Socket {
        uid: 0,
        admitted: true,
    }
}

#[tokio::test]
async fn users_have_their_own_buckets_and_admins_are_unlimited_by_default() -> TestResult {
    let d = SimDaemon::start_with_env(
        &[],
        &[
            ("BERTH_RATE_LIMITS__USER__CREATE", "2/hour"),
            ("BERTH_RATE_LIMITS__USER__EXEC", "3/min"),
        ],
    )
    .await?;
    let alice = d.user("alice", ALICE_PW).await?;
    let bob = d.user("bob", "Rows-Slowly-Home-47").await?;
    for name in ["a1", "a2"] {
        let (status, body) = d
            .call_as(
                Some(&alice),
                "POST",
                "/api/v1/instances",
                json!({"name": name, "image": "debian/12"}),
            )
            .await?;
        assert_eq!(status, StatusCode::ACCEPTED, "{body}");
        d.wait_success(&body).await?;
    }
    let (status, headers, body) = d
        .request(
            common::tcp(),
            &[("authorization".into(), format!("Bearer {alice}"))],
            "POST",
            "/api/v1/instances",
            json!({"name": "a3", "image": "debian/12"}),
        )
        .await?;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    let retry: u64 = headers
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .ok_or("Retry-After")?;
    assert!((1..=1800).contains(&retry), "{retry}");
    // Nothing was made by the refused call.
    let (status, _) = d.call("GET", "/api/v1/instances/a3", Value::Null).await?;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // Bob's bucket is his own; the admin's is unlimited.
    let (status, body) = d
        .call_as(
            Some(&bob),
            "POST",
            "/api/v1/instances",
            json!({"name": "b1", "image": "debian/12"}),
        )
        .await?;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    for i in 0..5 {
        d.launch(&format!("adm{i}")).await?;
    }
    // Exec: three a minute.
    for _ in 0..3 {
        let (status, body) = d
            .call_as(
                Some(&alice),
                "POST",
                "/api/v1/instances/a1/exec",
                json!({"command": ["true"]}),
            )
            .await?;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let (status, body) = d
        .call_as(
            Some(&alice),
            "POST",
            "/api/v1/instances/a1/exec",
            json!({"command": ["true"]}),
        )
        .await?;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    Ok(())
}

#[tokio::test]
async fn each_account_has_a_websocket_budget() -> TestResult {
    use tokio_tungstenite::client_async;
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;

    let d =
        SimDaemon::start_with_env(&[], &[("BERTH_SERVER__MAX_WEBSOCKETS_PER_USER", "2")]).await?;
    let served = d.serve_tcp().await?;
    let alice = d.user("alice", ALICE_PW).await?;
    let admin = d.login("admin", ADMIN_PASSWORD).await?;
    let open = |bearer: String| async move {
        let stream = tokio::net::TcpStream::connect(served.addr).await?;
        let mut request = format!("ws://{}/api/v1/events", served.addr).into_client_request()?;
        request
            .headers_mut()
            .insert("authorization", format!("Bearer {bearer}").parse()?);
        Ok::<_, Box<dyn std::error::Error>>(client_async(request, stream).await)
    };
    let first = open(alice.clone()).await?.map_err(|e| e.to_string())?;
    let _second = open(alice.clone()).await?.map_err(|e| e.to_string())?;
    match open(alice.clone()).await? {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status().as_u16(), 429);
        }
        other => {
            return Err(format!("a third WebSocket was not refused: {:?}", other.is_ok()).into());
        }
    }
    // Another account is not affected; a closed socket gives its place back.
    let _admins = open(admin).await?.map_err(|e| e.to_string())?;
    drop(first);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        match open(alice.clone()).await? {
            Ok(_) => break,
            Err(_) if std::time::Instant::now() < deadline => {
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
            Err(e) => return Err(format!("the place was not given back: {e}").into()),
        }
    }
    Ok(())
}
