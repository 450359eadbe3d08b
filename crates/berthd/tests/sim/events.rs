//! The events WebSocket over loopback TCP, on the sim backend: operation progress of a create,
//! lifecycle events with who asked, filters, ownership between users, metrics events carried
//! for the collector, browser cookies and Origin, and 300 subscribers with stuck ones.

use crate::{common, events_support};

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::http::StatusCode;
use berth_types::events::{Event, EventData, EventFilter, EventType};
use common::{ADMIN_PASSWORD, SimDaemon};
use events_support::*;
use serde_json::{Value, json};

#[tokio::test]
async fn a_create_streams_every_step_and_lifecycle_events_name_who_asked() -> Result<(), Error> {
    let d = daemon().await?;
    let served = d.serve_tcp().await.map_err(|e| e.to_string())?;
    let (admin, alice, _) = cast(&d).await?;
    let mut ws = subscribe(
        served.addr,
        "?types=operation,lifecycle&instance=web1",
        &admin,
    )
    .await?;

    // The admin creates web1 for alice: alice owns it, the admin asked.
    let accepted = create(
        &d,
        &admin,
        json!({"name": "web1", "image": "debian/12", "owner": "alice"}),
    )
    .await?;
    let id = accepted["operation"]["id"].clone();
    // The operation ends, then the lifecycle event says what it changed.
    let events = read_until(&mut ws, |e| is_lifecycle(e, "web1", "instance-created")).await?;
    let last_op = events.iter().rev().find(|e| e["type"] == "operation");
    assert_eq!(
        last_op.map(|e| &e["data"]["status"]),
        Some(&json!("success")),
        "{events:?}"
    );
    let ops: Vec<&Value> = events.iter().filter(|e| e["type"] == "operation").collect();
    assert!(ops.iter().all(|e| e["data"]["id"] == id), "{events:?}");
    assert!(
        ops.iter()
            .all(|e| e["instance"] == "web1" && e["owner"] == "alice")
    );
    assert_eq!(ops[0]["data"]["status"], "pending", "{:?}", ops[0]);
    let progress: Vec<u64> = ops
        .iter()
        .map(|e| e["data"]["progress"].as_u64().unwrap_or(0))
        .collect();
    assert!(progress.windows(2).all(|w| w[0] <= w[1]), "{progress:?}");
    assert_eq!(progress.last(), Some(&100));
    // Every step shows up as it starts (or is skipped: the sim keeps no root filesystem).
    for (index, name) in ["reserve", "image", "clone", "configure", "start"]
        .iter()
        .enumerate()
    {
        assert!(
            ops.iter().any(|e| {
                let step = &e["data"]["steps"][index];
                step["name"] == *name
                    && ["running", "skipped"].contains(&step["status"].as_str().unwrap_or(""))
            }),
            "step {name} never ran: {ops:?}"
        );
    }
    assert!(
        ops.iter().any(|e| e["data"]["message"] == "starting web1"),
        "the start step's message: {ops:?}"
    );
    let created: Vec<&Value> = events
        .iter()
        .filter(|e| is_lifecycle(e, "web1", "instance-created"))
        .collect();
    assert_eq!(created.len(), 1, "{events:?}");
    assert_eq!(created[0]["owner"], "alice");
    assert_eq!(created[0]["data"]["actor"], "admin");
    assert_eq!(created[0]["data"]["state"], "running");

    // Alice stops it herself; then starts it with an API token of hers.
    power(&d, &alice, "web1", "stop").await?;
    let events = read_until(&mut ws, |e| is_lifecycle(e, "web1", "instance-stopped")).await?;
    let stopped = events.last().ok_or("no event")?;
    assert_eq!(stopped["data"]["actor"], "alice");
    assert_eq!(stopped["data"]["state"], "stopped");
    let (status, token) = d
        .call_as(
            Some(&alice),
            "POST",
            "/api/v1/tokens",
            json!({"name": "ci"}),
        )
        .await
        .map_err(|e| e.to_string())?;
    assert_eq!(status, StatusCode::CREATED, "{token}");
    power(
        &d,
        token["secret"].as_str().ok_or("secret")?,
        "web1",
        "start",
    )
    .await?;
    let events = read_until(&mut ws, |e| is_lifecycle(e, "web1", "instance-started")).await?;
    assert_eq!(
        events.last().ok_or("no event")?["data"]["actor"],
        "alice/ci"
    );

    // Verbs that are not operations tell too.
    let (status, _) = d
        .call_as(
            Some(&alice),
            "PATCH",
            "/api/v1/instances/web1",
            json!({"limits": {"cpu": 2.0}}),
        )
        .await
        .map_err(|e| e.to_string())?;
    assert_eq!(status, StatusCode::OK);
    let events = read_until(&mut ws, |e| is_lifecycle(e, "web1", "instance-updated")).await?;
    assert_eq!(events.last().ok_or("no event")?["data"]["actor"], "alice");
    let (status, answer) = d
        .call_as(
            Some(&alice),
            "POST",
            "/api/v1/instances/web1/snapshots",
            json!({"name": "before"}),
        )
        .await
        .map_err(|e| e.to_string())?;
    assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
    let events = read_until(&mut ws, |e| is_lifecycle(e, "web1", "snapshot-created")).await?;
    assert_eq!(events.last().ok_or("no event")?["data"]["object"], "before");
    Ok(())
}

#[tokio::test]
async fn users_see_only_their_own_events_and_admins_see_all() -> Result<(), Error> {
    let d = daemon().await?;
    let served = d.serve_tcp().await.map_err(|e| e.to_string())?;
    let (admin, alice, bob) = cast(&d).await?;
    let mut alice_ws = subscribe(served.addr, "", &alice).await?;
    let mut bob_ws = subscribe(served.addr, "", &bob).await?;
    let mut admin_ws = subscribe(served.addr, "?types=lifecycle", &admin).await?;

    create(&d, &bob, json!({"name": "b1", "image": "debian/12"})).await?;
    create(&d, &alice, json!({"name": "a1", "image": "debian/12"})).await?;
    // A live sample of alice's instance, and one of the host, as the collector publishes them.
    d.app.events.publish(Event::metrics(
        Some("a1"),
        Some("alice"),
        &json!({"time": 1764615600, "cpu_percent": 12.5, "memory_bytes": 123}),
    )?);
    d.app
        .events
        .publish(Event::metrics(None, None, &json!({"cpu_percent": 40.0}))?);
    power(&d, &bob, "b1", "stop").await?;

    // Events reach each subscriber in order: everything published before alice's metrics
    // sample (bob's create among it) would have come before it.
    let seen = read_until(&mut alice_ws, |e| e["type"] == "metrics").await?;
    assert!(seen.iter().all(|e| e["owner"] == "alice"), "{seen:?}");
    assert!(
        seen.iter()
            .any(|e| is_lifecycle(e, "a1", "instance-created"))
    );
    let sample = seen.last().ok_or("no event")?;
    assert_eq!(sample["instance"], "a1");
    assert_eq!(sample["data"]["cpu_percent"], 12.5);

    let seen = read_until(&mut bob_ws, |e| is_lifecycle(e, "b1", "instance-stopped")).await?;
    assert!(seen.iter().all(|e| e["owner"] == "bob"), "{seen:?}");
    assert!(!seen.iter().any(|e| e["type"] == "metrics"), "{seen:?}");

    let seen = read_until(&mut admin_ws, |e| is_lifecycle(e, "b1", "instance-stopped")).await?;
    let created: Vec<&str> = seen
        .iter()
        .filter(|e| e["data"]["action"] == "instance-created")
        .filter_map(|e| e["instance"].as_str())
        .collect();
    assert_eq!(created, vec!["b1", "a1"], "{seen:?}");
    assert!(seen.iter().all(|e| e["type"] == "lifecycle"));
    Ok(())
}

#[tokio::test]
async fn filters_pick_types_and_an_instance_and_bad_ones_are_refused() -> Result<(), Error> {
    let d = daemon().await?;
    let served = d.serve_tcp().await.map_err(|e| e.to_string())?;
    let (admin, _, _) = cast(&d).await?;
    let mut only_f1 = subscribe(served.addr, "?types=lifecycle&instance=f1", &admin).await?;
    let mut metrics = subscribe(served.addr, "?types=metrics", &admin).await?;
    create(&d, &admin, json!({"name": "f2", "image": "debian/12"})).await?;
    create(&d, &admin, json!({"name": "f1", "image": "debian/12"})).await?;
    let first = next_event(&mut only_f1).await?;
    assert!(is_lifecycle(&first, "f1", "instance-created"), "{first}");
    d.app.events.publish(Event::metrics(
        Some("f1"),
        Some("admin"),
        &json!({"processes": 17}),
    )?);
    let first = next_event(&mut metrics).await?;
    assert_eq!(first["type"], "metrics", "{first}");
    assert_eq!(first["data"]["processes"], 17);

    let bearer = [("authorization", format!("Bearer {admin}"))];
    let (status, body) = refused(served.addr, "?types=lifecycle,gossip", &bearer).await?;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["field"], "types");
    let (status, body) = refused(served.addr, "?instance=Not_A_Name", &bearer).await?;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["field"], "instance");
    let (status, _) = refused(served.addr, "", &[]).await?;
    assert_eq!(status, 401);
    Ok(())
}

#[tokio::test]
async fn a_browser_subscribes_with_its_cookie_from_its_own_origin_only() -> Result<(), Error> {
    let d = daemon().await?;
    let served = d.serve_tcp().await.map_err(|e| e.to_string())?;
    let (status, headers, body) = d
        .request(
            common::tcp(),
            &[],
            "POST",
            "/api/v1/auth/login",
            json!({"username": "admin", "password": ADMIN_PASSWORD}),
        )
        .await
        .map_err(|e| e.to_string())?;
    assert_eq!(status, StatusCode::OK, "{body}");
    let cookie = headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with("berth_session="))
        .and_then(|c| c.split(';').next())
        .ok_or("no session cookie")?
        .to_owned();
    let own = format!("http://{}", served.addr);
    // No CSRF token needed: the stream changes nothing. The Origin must be ours.
    let mut ws = open(
        served.addr,
        "?types=lifecycle",
        &[("cookie", cookie.clone()), ("origin", own)],
    )
    .await?;
    create(
        &d,
        &d.login("admin", ADMIN_PASSWORD)
            .await
            .map_err(|e| e.to_string())?,
        json!({"name": "c1", "image": "debian/12"}),
    )
    .await?;
    let event = next_event(&mut ws).await?;
    assert!(is_lifecycle(&event, "c1", "instance-created"), "{event}");

    let (status, body) = refused(
        served.addr,
        "",
        &[
            ("cookie", cookie.clone()),
            ("origin", "https://evil.example".into()),
        ],
    )
    .await?;
    assert_eq!(status, 403, "cross-site WebSocket hijacking: {body}");
    let (status, body) = refused(served.addr, "", &[("cookie", cookie.clone())]).await?;
    assert_eq!(status, 403, "a cookie without an Origin: {body}");

    // A WebSocket that can change things (a console) still needs the CSRF token.
    let csrf = body_csrf(&d, &cookie).await?;
    let origin = format!("http://{}", served.addr);
    let console = |query: &str| format!("ws://{}/api/v1/instances/c1/console{query}", served.addr);
    let headers = [("cookie", cookie.clone()), ("origin", origin)];
    let (status, body) = refused_at(&console("?mode=shell"), &headers).await?;
    assert_eq!(status, 403, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("CSRF"),
        "{body}"
    );
    let with_token = console(&format!("?mode=shell&csrf={csrf}"));
    match refused_at(&with_token, &headers).await {
        Ok((status, body)) => {
            assert_ne!(status, 403, "with the token the guard lets it by: {body}")
        }
        Err(e) if e.to_string() == "the handshake was accepted" => {}
        Err(e) => return Err(e),
    }
    Ok(())
}

/// The CSRF token of the session behind `cookie`.
async fn body_csrf(d: &SimDaemon, cookie: &str) -> Result<String, Error> {
    let headers = [("cookie".to_owned(), cookie.to_owned())];
    let (status, _, me) = d
        .request(
            common::tcp(),
            &headers,
            "GET",
            "/api/v1/auth/me",
            Value::Null,
        )
        .await
        .map_err(|e| e.to_string())?;
    assert_eq!(status, StatusCode::OK, "{me}");
    Ok(me["csrf_token"].as_str().ok_or("no csrf_token")?.to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_hundred_subscribers_get_everything_and_stuck_ones_block_nobody() -> Result<(), Error>
{
    const READERS: usize = 300;
    const BATCH: usize = 200;
    const BATCHES: usize = 3;
    const TOTAL: usize = BATCH * BATCHES;
    let d = daemon().await?;
    let served = d.serve_tcp().await.map_err(|e| e.to_string())?;
    let admin = d
        .login("admin", ADMIN_PASSWORD)
        .await
        .map_err(|e| e.to_string())?;
    let bus = d.app.events.clone();
    let viewer = d.app.socket_principal().map_err(|e| e.to_string())?;

    // One WebSocket client that never reads, and a subscriber on the bus with a small buffer
    // that never reads either.
    let mut stuck_ws = subscribe(served.addr, "?types=metrics", &admin).await?;
    // Metrics only, as the readers: the daemon's own events (a backend's state, the host's
    // capacity) may come at any time and would be counted among the dropped.
    let only_metrics = EventFilter {
        types: Some([EventType::Metrics].into()),
        instance: None,
    };
    let mut stuck_bus = bus.subscribe_with_buffer(viewer, only_metrics, 64);

    let progress: Arc<Vec<AtomicUsize>> =
        Arc::new((0..READERS).map(|_| AtomicUsize::new(0)).collect());
    let mut readers = tokio::task::JoinSet::new();
    for reader in 0..READERS {
        let mut ws = subscribe(served.addr, "?types=metrics", &admin).await?;
        let progress = progress.clone();
        readers.spawn(async move {
            for want in 0..TOTAL {
                let event = next_event(&mut ws).await?;
                if event["type"] != "metrics" || event["data"]["seq"] != want {
                    return Err::<(), Error>(
                        format!("reader {reader} wanted event {want}, got {event}").into(),
                    );
                }
                progress[reader].store(want + 1, Ordering::Release);
            }
            Ok(())
        });
    }
    assert_eq!(bus.subscriber_count(), READERS + 2);

    for batch in 0..BATCHES {
        for seq in batch * BATCH..(batch + 1) * BATCH {
            let point = json!({"seq": seq, "cpu_percent": 1.0});
            bus.publish(Event::metrics(Some("load"), Some("admin"), &point)?);
        }
        // The stuck ones have not read a thing, yet every reader gets the whole batch.
        let goal = (batch + 1) * BATCH;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
        while progress.iter().any(|p| p.load(Ordering::Acquire) < goal) {
            if tokio::time::Instant::now() > deadline {
                return Err(format!("readers did not get batch {batch} within 120 s").into());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    while let Some(done) = readers.join_next().await {
        done??;
    }

    // The stuck bus subscriber kept its 64 oldest events; the rest it is told about.
    for want in 0..64 {
        let event = stuck_bus.recv().await.ok_or("bus gone")?;
        let EventData::Metrics(point) = &event.data else {
            return Err(format!("event {want}: {event:?}").into());
        };
        assert_eq!(point["seq"], want);
    }
    let notice = stuck_bus.recv().await.ok_or("bus gone")?;
    match &notice.data {
        EventData::Notice(n) => assert_eq!(n.dropped, (TOTAL - 64) as u64, "{n:?}"),
        other => return Err(format!("expected a notice, got {other:?}").into()),
    }

    // The stuck WebSocket client, reading at last, gets each event or hears it was dropped.
    let (mut got, mut dropped) = (0usize, 0usize);
    while got + dropped < TOTAL {
        let event = next_event(&mut stuck_ws).await?;
        match event["type"].as_str() {
            Some("metrics") => got += 1,
            Some("notice") => dropped += event["data"]["dropped"].as_u64().unwrap_or(0) as usize,
            _ => return Err(format!("unexpected {event}").into()),
        }
    }
    assert_eq!(got + dropped, TOTAL);
    drop(stuck_bus);
    Ok(())
}
