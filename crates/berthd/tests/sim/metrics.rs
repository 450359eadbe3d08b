//! Metrics on the sim backend: the history API's shape and errors, a collector tick over
//! synthetic cgroup and veth trees feeding the history, `/metrics` (parsed by Prometheus' own
//! parser), and a deleted instance's history going with it. Alerts are `tests/sim/alerts.rs`'s.

use crate::{common, metrics_support, pytools};

use std::time::Duration;

use axum::http::StatusCode;
use berth_types::metrics::MetricsPoint;
use common::{ADMIN_PASSWORD, SimDaemon, TestResult, tcp};
use metrics_support::{login, write_guest};
use serde_json::{Value, json};

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

#[tokio::test]
async fn history_shape_timeframes_and_bad_input() -> TestResult {
    let d = SimDaemon::start(&[]).await?;
    d.launch("web1").await?;
    let now = now_ms() / 1000;
    for (i, cpu) in [10.0, 30.0, 20.0].into_iter().enumerate() {
        let p = MetricsPoint {
            cpu_percent: Some(cpu),
            memory_bytes: Some(1e6),
            ..MetricsPoint::default()
        };
        d.app
            .metrics
            .series
            .record(now - 30 + 10 * i as i64, &[("instance:web1".into(), p)])?;
    }
    let (status, hour) = d
        .call("GET", "/api/v1/instances/web1/metrics", Value::Null)
        .await?;
    assert_eq!(status, StatusCode::OK, "{hour}");
    assert_eq!(
        (hour["timeframe"].as_str(), hour["cf"].as_str()),
        (Some("hour"), Some("avg"))
    );
    assert_eq!(hour["resolution"], 10);
    let points = hour["points"].as_array().ok_or("points")?;
    assert_eq!(points.len(), 360);
    let cpus: Vec<f64> = points
        .iter()
        .filter_map(|p| p["cpu_percent"].as_f64())
        .collect();
    assert_eq!(cpus, [10.0, 30.0, 20.0]);
    // Every field of the contract is there, null where there is no data.
    for key in [
        "time",
        "cpu_percent",
        "memory_bytes",
        "memory_limit_bytes",
        "memory_cache_bytes",
        "disk_bytes",
        "disk_limit_bytes",
        "net_rx_bytes_per_s",
        "net_tx_bytes_per_s",
        "processes",
    ] {
        assert!(points[0].get(key).is_some(), "missing {key}");
    }
    assert!(points[0]["time"].as_i64().is_some_and(|t| t % 10 == 0));
    for (tf, res) in [
        ("day", 60),
        ("week", 1800),
        ("month", 1800),
        ("year", 21_600),
        ("decade", 604_800),
    ] {
        let (status, h) = d
            .call(
                "GET",
                &format!("/api/v1/instances/web1/metrics?timeframe={tf}&cf=max"),
                Value::Null,
            )
            .await?;
        assert_eq!(status, StatusCode::OK, "{h}");
        assert_eq!(h["resolution"], res, "{tf}");
        // The samples are in the newest one or two buckets (the open one from its
        // accumulator); the maximum over them is 30.
        let points = h["points"].as_array().ok_or("points")?;
        let recent: Vec<f64> = points[points.len() - 2..]
            .iter()
            .filter_map(|p| p["cpu_percent"].as_f64())
            .collect();
        let max = recent.iter().copied().fold(f64::MIN, f64::max);
        assert_eq!(max, 30.0, "{tf}: {recent:?}");
    }
    for (query, field) in [("timeframe=minute", "timeframe"), ("cf=median", "cf")] {
        let (status, e) = d
            .call(
                "GET",
                &format!("/api/v1/instances/web1/metrics?{query}"),
                Value::Null,
            )
            .await?;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{e}");
        assert_eq!(e["error"]["field"], field);
    }
    let (status, _) = d
        .call("GET", "/api/v1/instances/nope/metrics", Value::Null)
        .await?;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, sys) = d
        .call("GET", "/api/v1/system/metrics?timeframe=day", Value::Null)
        .await?;
    assert_eq!(
        (status, sys["resolution"].as_i64()),
        (StatusCode::OK, Some(60))
    );
    // A user sees neither the host's history nor someone else's instance.
    let (status, _) = d
        .call(
            "POST",
            "/api/v1/users",
            json!({"username": "alice", "password": "Paddle-Quietly-93"}),
        )
        .await?;
    assert_eq!(status, StatusCode::CREATED);
    let alice = login(&d, "alice", "Paddle-Quietly-93").await?;
    let (status, _) = d
        .call_as(Some(&alice), "GET", "/api/v1/system/metrics", Value::Null)
        .await?;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = d
        .call_as(
            Some(&alice),
            "GET",
            "/api/v1/instances/web1/metrics",
            Value::Null,
        )
        .await?;
    assert_eq!(status, StatusCode::NOT_FOUND);
    Ok(())
}

#[tokio::test]
async fn a_tick_feeds_history_and_openmetrics_that_prometheus_parses() -> TestResult {
    let d = SimDaemon::start_with_env(&[], &[("BERTH_TESTING__METRICS_ROOT", "{dir}/synthetic")])
        .await?;
    d.launch("web1").await?;
    let root = d.data_dir().join("synthetic");
    let t0 = now_ms() - 20_000;
    write_guest(&root, "web1", 100_000, 0)?;
    d.app.collect_metrics(t0).await.ok_or("no tick")?;
    // 10 s later: 5 s of CPU (50 % of a core) and 20 000 bytes received.
    write_guest(&root, "web1", 105_000, 20_000)?;
    let tick = d.app.collect_metrics(t0 + 10_000).await.ok_or("no tick")?;
    assert_eq!(tick.instances.len(), 1);
    // Each sample also went out live on the events bus, as a `metrics` event.
    let mut live = d.app.events.subscribe(
        d.app.socket_principal()?,
        berth_types::events::EventFilter::default(),
    );
    // The same rates for another 10 s, so the history below is unchanged.
    write_guest(&root, "web1", 110_000, 40_000)?;
    d.app.collect_metrics(t0 + 20_000).await.ok_or("no tick")?;
    let mut instance_event = None;
    let mut host_event = None;
    while let Ok(Some(event)) = tokio::time::timeout(Duration::from_secs(2), live.recv()).await {
        let event: Value = serde_json::from_str(event.json())?;
        if event["type"] == "metrics" {
            match event["instance"].as_str() {
                Some("web1") => instance_event = Some(event),
                None => host_event = Some(event),
                Some(_) => {}
            }
        }
        if instance_event.is_some() && host_event.is_some() {
            break;
        }
    }
    let instance_event = instance_event.ok_or("no live metrics event for web1")?;
    assert_eq!(instance_event["owner"], "admin");
    assert!(
        instance_event["data"].get("cpu_percent").is_some(),
        "{instance_event}"
    );
    assert!(host_event.is_some(), "no live host metrics event");
    let (_, hour) = d
        .call("GET", "/api/v1/instances/web1/metrics", Value::Null)
        .await?;
    let last = hour["points"]
        .as_array()
        .and_then(|p| p.iter().rev().find(|p| !p["cpu_percent"].is_null()))
        .ok_or("no cpu point")?;
    assert_eq!(last["cpu_percent"].as_f64(), Some(50.0), "{last}");
    assert_eq!(last["net_rx_bytes_per_s"].as_f64(), Some(2000.0));
    assert_eq!(last["memory_limit_bytes"].as_f64(), Some(536_870_912.0));
    assert_eq!(last["memory_cache_bytes"].as_f64(), Some(52_428_800.0));
    assert_eq!(last["processes"].as_f64(), Some(12.0));
    let (_, sys) = d.call("GET", "/api/v1/system/metrics", Value::Null).await?;
    let host = sys["points"]
        .as_array()
        .and_then(|p| p.iter().rev().find(|p| !p["memory_bytes"].is_null()))
        .ok_or("no host point")?;
    assert!(host["memory_limit_bytes"].as_f64().is_some_and(|m| m > 0.0));

    // /metrics: the socket may read it; over TCP only an admin's token.
    let socket = berthd::api::Transport::Socket {
        uid: 0,
        admitted: true,
    };
    let (status, headers, text) = d
        .request(socket, &[], "GET", "/metrics", Value::Null)
        .await?;
    assert_eq!(status, StatusCode::OK);
    assert!(
        headers["content-type"]
            .to_str()?
            .starts_with("application/openmetrics-text")
    );
    let text = text.as_str().ok_or("not text")?;
    let samples = pytools::parse_openmetrics(text)?;
    let find = |prefix: &str| samples.iter().find(|s| s.starts_with(prefix)).cloned();
    assert_eq!(
        find("berth_instance_cpu_percent{instance=web1,owner=admin}").as_deref(),
        Some("berth_instance_cpu_percent{instance=web1,owner=admin} 50.0"),
        "{samples:?}"
    );
    assert_eq!(
        find("berth_instance_cpu_seconds_total{").as_deref(),
        Some("berth_instance_cpu_seconds_total{instance=web1,owner=admin} 110.0")
    );
    assert_eq!(
        find("berth_instance_network_receive_bytes_total{").as_deref(),
        Some("berth_instance_network_receive_bytes_total{instance=web1,owner=admin} 40000.0")
    );
    assert!(
        find("berth_host_memory_total_bytes{}").is_some(),
        "{samples:?}"
    );
    let (status, _, _) = d
        .request(tcp(), &[], "GET", "/metrics", Value::Null)
        .await?;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = d
        .call(
            "POST",
            "/api/v1/users",
            json!({"username": "alice", "password": "Paddle-Quietly-93"}),
        )
        .await?;
    assert_eq!(status, StatusCode::CREATED);
    for (user, pw, want) in [
        ("alice", "Paddle-Quietly-93", StatusCode::FORBIDDEN),
        ("admin", ADMIN_PASSWORD, StatusCode::OK),
    ] {
        let token = login(&d, user, pw).await?;
        let auth = [("authorization".to_owned(), format!("Bearer {token}"))];
        let (status, _, _) = d
            .request(tcp(), &auth, "GET", "/metrics", Value::Null)
            .await?;
        assert_eq!(status, want, "{user}");
    }
    Ok(())
}

#[tokio::test]
async fn deleting_an_instance_deletes_its_history() -> TestResult {
    let d = SimDaemon::start(&[]).await?;
    d.launch("web1").await?;
    let now = now_ms() / 1000;
    let p = MetricsPoint {
        cpu_percent: Some(42.0),
        ..MetricsPoint::default()
    };
    d.app
        .metrics
        .series
        .record(now, &[("instance:web1".into(), p)])?;
    let (status, op) = d
        .call("DELETE", "/api/v1/instances/web1", json!({"force": true}))
        .await?;
    assert_eq!(status, StatusCode::ACCEPTED, "{op}");
    d.wait_success(&op).await?;
    d.launch("web1").await?;
    let (_, hour) = d
        .call("GET", "/api/v1/instances/web1/metrics?cf=max", Value::Null)
        .await?;
    let values: Vec<f64> = hour["points"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| p["cpu_percent"].as_f64())
        .collect();
    assert!(values.is_empty(), "the new web1 inherited {values:?}");
    Ok(())
}
