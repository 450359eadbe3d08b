//! Alerts on the sim backend: the default CPU rule driven by an injected clock, with a real SMTP
//! server (aiosmtpd) and a webhook receiver on loopback; rules owned by users with bad rules
//! named by field; test email over STARTTLS and TLS with a private CA; bad SMTP settings
//! stopping the daemon by key.

use crate::{common, metrics_support, pytools};

use std::time::Duration;

use axum::http::StatusCode;
use common::{SimDaemon, TestResult};
use metrics_support::{login, write_guest};
use serde_json::{Value, json};

/// A loopback webhook receiver: each POST body is sent on the channel.
async fn webhook_receiver()
-> Result<(String, tokio::sync::mpsc::UnboundedReceiver<Value>), Box<dyn std::error::Error>> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/hook", listener.local_addr()?);
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let mut buf = Vec::new();
            let mut chunk = [0u8; 4096];
            let body = loop {
                let Ok(n) = stream.read(&mut chunk).await else {
                    break None;
                };
                if n == 0 {
                    break None;
                }
                buf.extend_from_slice(&chunk[..n]);
                let text = String::from_utf8_lossy(&buf).into_owned();
                if let Some((head, body)) = text.split_once("\r\n\r\n") {
                    let len = head
                        .lines()
                        .find_map(|l| {
                            l.to_ascii_lowercase()
                                .strip_prefix("content-length:")
                                .map(|v| v.trim().to_owned())
                        })
                        .and_then(|v| v.parse::<usize>().ok())
                        .unwrap_or(0);
                    if body.len() >= len {
                        break Some(body.to_owned());
                    }
                }
            };
            let _ = stream
                .write_all(
                    b"HTTP/1.1 204 No Content\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
                )
                .await;
            if let Some(v) = body.and_then(|b| serde_json::from_str(&b).ok()) {
                let _ = tx.send(v);
            }
        }
    });
    Ok((url, rx))
}

#[tokio::test]
async fn default_cpu_rule_fires_after_five_minutes_emails_posts_and_resolves() -> TestResult {
    let smtp = pytools::SmtpServer::start()?;
    let port = smtp.port.to_string();
    let d = SimDaemon::start_with_env(
        &[],
        &[
            ("BERTH_TESTING__METRICS_ROOT", "{dir}/synthetic"),
            ("BERTH_ALERTS__SMTP__HOST", "127.0.0.1"),
            ("BERTH_ALERTS__SMTP__PORT", &port),
            ("BERTH_ALERTS__SMTP__TLS", "none"),
            ("BERTH_ALERTS__SMTP__FROM", "Berth <berth@example.test>"),
        ],
    )
    .await?;
    // The owner has an address; the instance has a 1-core limit.
    let (status, alice) = d
        .call(
            "POST",
            "/api/v1/users",
            json!({"username": "alice", "password": "Paddle-Quietly-93", "email": "alice@example.test"}),
        )
        .await?;
    assert_eq!(status, StatusCode::CREATED, "{alice}");
    assert_eq!(alice["email"], "alice@example.test");
    let (status, op) = d
        .call(
            "POST",
            "/api/v1/instances",
            json!({"name": "hot1", "image": "debian/12", "owner": "alice", "limits": {"cpu": 1.0}}),
        )
        .await?;
    assert_eq!(status, StatusCode::ACCEPTED, "{op}");
    d.wait_success(&op).await?;
    // The defaults are there; the CPU one gets our webhook.
    let (_, rules) = d.call("GET", "/api/v1/alerts/rules", Value::Null).await?;
    let rules = rules.as_array().ok_or("rules")?.clone();
    assert_eq!(rules.len(), 3, "{rules:?}");
    let cpu_rule = rules
        .iter()
        .find(|r| r["metric"] == "cpu_percent")
        .ok_or("no cpu rule")?;
    assert_eq!(
        (
            cpu_rule["threshold"].as_f64(),
            cpu_rule["for_seconds"].as_u64()
        ),
        (Some(90.0), Some(300))
    );
    let id = cpu_rule["id"].as_str().ok_or("id")?;
    let (url, mut hooks) = webhook_receiver().await?;
    let (status, patched) = d
        .call(
            "PATCH",
            &format!("/api/v1/alerts/rules/{id}"),
            json!({"webhook": url}),
        )
        .await?;
    assert_eq!(status, StatusCode::OK, "{patched}");

    // 95 % of a core for 5 minutes of injected time, 10 s apart.
    let root = d.data_dir().join("synthetic");
    let t0 = 1_800_000_000_000_i64;
    let mut cpu_ms = 1_000_000;
    for i in 0..=31 {
        write_guest(&root, "hot1", cpu_ms, 0)?;
        d.app
            .collect_metrics(t0 + i * 10_000)
            .await
            .ok_or("no tick")?;
        cpu_ms += 9_500;
    }
    let (_, events) = d.call("GET", "/api/v1/alerts/events", Value::Null).await?;
    let events = events.as_array().ok_or("events")?.clone();
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["state"], "firing");
    assert_eq!(events[0]["instance"], "hot1");
    // It held from the second tick (the first has no rate): fired 300 s later.
    assert_eq!(events[0]["time"].as_i64(), Some(t0 / 1000 + 310));
    let hook = tokio::time::timeout(Duration::from_secs(10), hooks.recv())
        .await?
        .ok_or("no webhook")?;
    assert_eq!(hook["event"]["state"], "firing");
    assert_eq!(hook["rule"]["id"], id);
    let mut mail = String::new();
    for _ in 0..100 {
        mail = smtp.received();
        if mail.contains("FIRING") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(mail.contains("RCPT TO alice@example.test"), "{mail}");
    assert!(mail.contains("FIRING: cpu above 90% on hot1"), "{mail}");
    // The event says what was attempted, per channel, and how it went.
    let mut deliveries = Value::Null;
    for _ in 0..100 {
        let (_, events) = d.call("GET", "/api/v1/alerts/events", Value::Null).await?;
        deliveries = events[0]["deliveries"].clone();
        if !deliveries.is_null() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        deliveries,
        json!([
            {"channel": "email", "to": "alice@example.test", "status": "sent"},
            {"channel": "webhook", "to": url, "status": "sent"},
        ]),
        "{deliveries}"
    );

    // Idle (the counter stands still): resolved, notified too.
    write_guest(&root, "hot1", cpu_ms - 9_500, 0)?;
    d.app
        .collect_metrics(t0 + 32 * 10_000)
        .await
        .ok_or("no tick")?;
    let Ok(hook) = tokio::time::timeout(Duration::from_secs(10), hooks.recv()).await else {
        let (_, events) = d.call("GET", "/api/v1/alerts/events", Value::Null).await?;
        return Err(format!("no resolved webhook; events: {events}").into());
    };
    let hook = hook.ok_or("no webhook")?;
    assert_eq!(hook["event"]["state"], "resolved");
    // Alice sees no events: the rule is the admin's. The admin sees both, newest first.
    let alice_token = login(&d, "alice", "Paddle-Quietly-93").await?;
    let (_, theirs) = d
        .call_as(
            Some(&alice_token),
            "GET",
            "/api/v1/alerts/events",
            Value::Null,
        )
        .await?;
    assert_eq!(theirs.as_array().map(Vec::len), Some(0));
    let (_, events) = d.call("GET", "/api/v1/alerts/events", Value::Null).await?;
    assert_eq!(events[0]["state"], "resolved");
    assert_eq!(events.as_array().map(Vec::len), Some(2));

    // The test email goes through; a dead server's error comes back.
    let (status, sent) = d
        .call(
            "POST",
            "/api/v1/alerts/test",
            json!({"email": "ops@example.test"}),
        )
        .await?;
    assert_eq!(
        (status, sent["sent"].as_bool()),
        (StatusCode::OK, Some(true)),
        "{sent}"
    );
    drop(smtp);
    let (status, failed) = d
        .call(
            "POST",
            "/api/v1/alerts/test",
            json!({"email": "ops@example.test"}),
        )
        .await?;
    assert_eq!(
        (status, failed["sent"].as_bool()),
        (StatusCode::OK, Some(false)),
        "{failed}"
    );
    assert!(failed["error"].as_str().is_some_and(|e| !e.is_empty()));
    let (status, bad) = d
        .call(
            "POST",
            "/api/v1/alerts/test",
            json!({"email": "not an address"}),
        )
        .await?;
    assert_eq!(
        (status, bad["error"]["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("email"))
    );
    Ok(())
}

#[tokio::test]
async fn rules_belong_to_users_and_bad_rules_name_the_field() -> TestResult {
    let d = SimDaemon::start(&[]).await?;
    d.launch("web1").await?;
    for user in ["alice", "bob"] {
        let (status, _) = d
            .call(
                "POST",
                "/api/v1/users",
                json!({"username": user, "password": "Paddle-Quietly-93"}),
            )
            .await?;
        assert_eq!(status, StatusCode::CREATED);
    }
    let alice = login(&d, "alice", "Paddle-Quietly-93").await?;
    let bob = login(&d, "bob", "Paddle-Quietly-93").await?;
    for (body, field) in [
        (json!({"metric": "load", "threshold": 1}), "metric"),
        (
            json!({"metric": "memory_percent", "threshold": 150}),
            "threshold",
        ),
        (
            json!({"metric": "processes", "threshold": 5, "comparison": ">="}),
            "comparison",
        ),
        (
            json!({"metric": "processes", "threshold": 5, "webhook": "https://x/"}),
            "webhook",
        ),
        (
            json!({"metric": "processes", "threshold": 5, "scope": {"kind": "instance", "value": "web1"}}),
            "scope.value",
        ),
        (
            json!({"metric": "processes", "threshold": 5, "scope": {"kind": "user", "value": "bob"}}),
            "scope.value",
        ),
    ] {
        let (status, e) = d
            .call_as(Some(&alice), "POST", "/api/v1/alerts/rules", body.clone())
            .await?;
        assert_eq!(
            (status, e["error"]["field"].as_str()),
            (StatusCode::BAD_REQUEST, Some(field)),
            "{body}: {e}"
        );
    }
    let (status, rule) = d
        .call_as(Some(&alice), "POST", "/api/v1/alerts/rules",
            json!({"metric": "processes", "threshold": 500, "for_seconds": 60, "scope": {"kind": "user", "value": "alice"}}))
        .await?;
    assert_eq!(status, StatusCode::CREATED, "{rule}");
    assert_eq!(rule["owner"], "alice");
    let id = rule["id"].as_str().ok_or("id")?;
    let (_, mine) = d
        .call_as(Some(&alice), "GET", "/api/v1/alerts/rules", Value::Null)
        .await?;
    assert_eq!(mine.as_array().map(Vec::len), Some(1));
    let (_, all) = d.call("GET", "/api/v1/alerts/rules", Value::Null).await?;
    assert_eq!(all.as_array().map(Vec::len), Some(4));
    // Bob can neither see nor change it; a bad patch changes nothing.
    let path = format!("/api/v1/alerts/rules/{id}");
    let (status, _) = d
        .call_as(Some(&bob), "PATCH", &path, json!({"threshold": 1}))
        .await?;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = d.call_as(Some(&bob), "DELETE", &path, Value::Null).await?;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, e) = d
        .call_as(
            Some(&alice),
            "PATCH",
            &path,
            json!({"threshold": 1, "for_seconds": 99_999_999}),
        )
        .await?;
    assert_eq!(
        (status, e["error"]["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("for_seconds"))
    );
    let (_, mine) = d
        .call_as(Some(&alice), "GET", "/api/v1/alerts/rules", Value::Null)
        .await?;
    assert_eq!(mine[0]["threshold"].as_f64(), Some(500.0));
    let (status, _) = d
        .call_as(
            Some(&alice),
            "POST",
            "/api/v1/alerts/test",
            json!({"email": "a@b.c"}),
        )
        .await?;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, e) = d
        .call("POST", "/api/v1/alerts/test", json!({"email": "a@b.c"}))
        .await?;
    assert_eq!(
        (status, e["error"]["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("alerts.smtp"))
    );
    let (status, _) = d
        .call_as(Some(&alice), "DELETE", &path, Value::Null)
        .await?;
    assert_eq!(status, StatusCode::NO_CONTENT);
    Ok(())
}

/// A self-signed certificate for 127.0.0.1, written as PEM files; (cert, key).
fn self_signed(
    dir: &std::path::Path,
) -> Result<(std::path::PathBuf, std::path::PathBuf), Box<dyn std::error::Error>> {
    let cert = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()])?;
    let (c, k) = (dir.join("smtp.crt"), dir.join("smtp.key"));
    std::fs::write(&c, cert.cert.pem())?;
    std::fs::write(&k, cert.signing_key.serialize_pem())?;
    Ok((c, k))
}

#[tokio::test]
async fn test_email_over_starttls_and_tls_with_login_and_a_private_ca() -> TestResult {
    let certs = tempfile::tempdir()?;
    let (cert, key) = self_signed(certs.path())?;
    let ca = cert.display().to_string();
    for (mode, tls) in [
        (pytools::SmtpMode::StartTls, "starttls"),
        (pytools::SmtpMode::Tls, "tls"),
    ] {
        let smtp = pytools::SmtpServer::start_with(
            mode,
            Some((&cert, &key)),
            Some(("berth", "s3cret-pw")),
        )?;
        let port = smtp.port.to_string();
        let env = |password: &'static str| {
            vec![
                ("BERTH_ALERTS__SMTP__HOST", "127.0.0.1".to_owned()),
                ("BERTH_ALERTS__SMTP__PORT", port.clone()),
                ("BERTH_ALERTS__SMTP__TLS", tls.to_owned()),
                ("BERTH_ALERTS__SMTP__USERNAME", "berth".to_owned()),
                ("BERTH_ALERTS__SMTP__PASSWORD", password.to_owned()),
                ("BERTH_ALERTS__SMTP__FROM", "berth@example.test".to_owned()),
                ("BERTH_ALERTS__SMTP__CA_FILE", ca.clone()),
            ]
        };
        for (password, sent) in [("s3cret-pw", true), ("wrong-pw", false)] {
            let vars = env(password);
            let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let d = SimDaemon::start_with_env(&[], &vars).await?;
            let (status, answer) = d
                .call(
                    "POST",
                    "/api/v1/alerts/test",
                    json!({"email": "ops@example.test"}),
                )
                .await?;
            assert_eq!(status, StatusCode::OK, "{answer}");
            assert_eq!(
                answer["sent"].as_bool(),
                Some(sent),
                "{tls} {password}: {answer}"
            );
            if !sent {
                let error = answer["error"].as_str().unwrap_or_default();
                assert!(
                    error.contains("535") || error.to_lowercase().contains("auth"),
                    "{error}"
                );
            }
        }
        let mail = smtp.received();
        assert_eq!(
            mail.matches("RCPT TO ops@example.test").count(),
            1,
            "{tls}: {mail}"
        );
        assert!(mail.contains("AUTH berth"), "{mail}");
        assert!(mail.contains("Subject: [berth] test email"), "{mail}");
    }
    // Without the CA the self-signed server is not trusted, and says why.
    let smtp = pytools::SmtpServer::start_with(pytools::SmtpMode::Tls, Some((&cert, &key)), None)?;
    let port = smtp.port.to_string();
    let d = SimDaemon::start_with_env(
        &[],
        &[
            ("BERTH_ALERTS__SMTP__HOST", "127.0.0.1"),
            ("BERTH_ALERTS__SMTP__PORT", &port),
            ("BERTH_ALERTS__SMTP__TLS", "tls"),
            ("BERTH_ALERTS__SMTP__FROM", "berth@example.test"),
        ],
    )
    .await?;
    let (_, answer) = d
        .call(
            "POST",
            "/api/v1/alerts/test",
            json!({"email": "ops@example.test"}),
        )
        .await?;
    assert_eq!(answer["sent"].as_bool(), Some(false), "{answer}");
    assert!(
        answer["error"]
            .as_str()
            .is_some_and(|e| e.to_lowercase().contains("certificate")),
        "{answer}"
    );
    assert!(smtp.received().is_empty());
    Ok(())
}

#[tokio::test]
async fn invalid_smtp_settings_stop_the_daemon_naming_the_key() -> TestResult {
    for (key, value, named) in [
        ("BERTH_ALERTS__SMTP__TLS", "ssl", "alerts.smtp.tls"),
        (
            "BERTH_ALERTS__SMTP__FROM",
            "not an address",
            "alerts.smtp.from",
        ),
        (
            "BERTH_ALERTS__SMTP__CA_FILE",
            "/nonexistent/ca.pem",
            "alerts.smtp.ca_file",
        ),
        ("BERTH_METRICS__INTERVAL", "7s", "metrics.interval"),
    ] {
        let mut env = vec![
            ("BERTH_ALERTS__SMTP__HOST", "127.0.0.1"),
            ("BERTH_ALERTS__SMTP__FROM", "berth@example.test"),
        ];
        env.retain(|(k, _)| *k != key);
        env.push((key, value));
        let err = match SimDaemon::start_with_env(&[], &env).await {
            Ok(_) => return Err(format!("{key}={value} was accepted").into()),
            Err(e) => e.to_string(),
        };
        assert!(err.contains(named), "{key}={value}: {err}");
    }
    Ok(())
}
