//! `GET /instances` with many instances: cursor pages walk every instance exactly once, the
//! filters narrow it, bad parameters are 400s naming themselves, and the `ETag` answers 304
//! until something changes.

use crate::common;

use axum::http::{HeaderMap, StatusCode};
use common::{SimDaemon, TestResult};
use serde_json::{Value, json};

/// GET `path` as root on the socket with these headers.
async fn get(
    d: &SimDaemon,
    path: &str,
    headers: &[(&str, &str)],
) -> Result<(StatusCode, HeaderMap, Value), Box<dyn std::error::Error>> {
    let socket = berthd::api::Transport::Socket {
        uid: 0,
        admitted: true,
    };
    let headers: Vec<(String, String)> = headers
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    d.request(socket, &headers, "GET", path, Value::Null).await
}

fn names(body: &Value) -> Vec<String> {
    body.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|i| i["name"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn cursor_pages_walk_every_instance_once_and_filters_narrow_them() -> TestResult {
    let d = SimDaemon::start(&[]).await?;
    let mut all = Vec::new();
    for i in 0..7 {
        let name = format!("lst-{}-{i}", if i % 2 == 0 { "web" } else { "db" });
        d.launch(&name).await?;
        all.push(name);
    }
    all.sort();
    let (status, body) = d
        .call("POST", "/api/v1/instances/lst-db-1/stop", json!({}))
        .await?;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    d.wait_success(&body).await?;

    // No limit: everything, no cursor (as before).
    let (status, headers, body) = get(&d, "/api/v1/instances", &[]).await?;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(names(&body), all);
    assert!(headers.get("x-next-cursor").is_none());

    // Pages of 3: 3 + 3 + 1, every name once, in order.
    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    let mut pages = 0;
    loop {
        let path = match &after {
            Some(a) => format!("/api/v1/instances?limit=3&after={a}"),
            None => "/api/v1/instances?limit=3".to_owned(),
        };
        let (status, headers, body) = get(&d, &path, &[]).await?;
        assert_eq!(status, StatusCode::OK, "{body}");
        pages += 1;
        let page = names(&body);
        assert!(page.len() <= 3, "{page:?}");
        seen.extend(page);
        match headers.get("x-next-cursor") {
            Some(next) => after = Some(next.to_str()?.to_owned()),
            None => break,
        }
        assert!(pages < 10, "the cursor does not advance");
    }
    assert_eq!(seen, all);
    assert_eq!(pages, 3);

    // A page that ends exactly at the last instance has no cursor.
    let (_, headers, body) = get(&d, "/api/v1/instances?limit=7", &[]).await?;
    assert_eq!(names(&body).len(), 7);
    assert!(headers.get("x-next-cursor").is_none());

    // Filters.
    let (_, _, body) = get(&d, "/api/v1/instances?name=lst-web-*", &[]).await?;
    assert_eq!(
        names(&body),
        ["lst-web-0", "lst-web-2", "lst-web-4", "lst-web-6"]
    );
    let (_, _, body) = get(&d, "/api/v1/instances?name=lst-d?-*&limit=1", &[]).await?;
    assert_eq!(names(&body), ["lst-db-1"]);
    let (_, _, body) = get(&d, "/api/v1/instances?state=stopped", &[]).await?;
    assert_eq!(names(&body), ["lst-db-1"]);
    let (_, _, body) = get(&d, "/api/v1/instances?state=running&name=lst-db-*", &[]).await?;
    assert_eq!(names(&body), ["lst-db-3", "lst-db-5"]);
    let (_, _, body) = get(&d, "/api/v1/instances?backend=sim&owner=admin", &[]).await?;
    assert_eq!(names(&body), all);
    let (_, _, body) = get(&d, "/api/v1/instances?owner=nobody", &[]).await?;
    assert_eq!(names(&body), Vec::<String>::new());
    Ok(())
}

#[tokio::test]
async fn bad_parameters_are_400s_naming_them_and_owner_is_for_admins() -> TestResult {
    let d = SimDaemon::start(&[]).await?;
    for (query, field) in [
        ("limit=0", "limit"),
        ("limit=1001", "limit"),
        ("limit=many", "limit"),
        ("after=Not_A_Name", "after"),
        ("state=sleeping", "state"),
        ("backend=nowhere", "backend"),
        ("name=Web/*", "name"),
    ] {
        let (status, _, body) = get(&d, &format!("/api/v1/instances?{query}"), &[]).await?;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {body}");
        let text = body.to_string();
        assert!(text.contains(field), "{query}: {text}");
    }
    let token = d.user("lst-alice", "Correct-Horse-Battery-9").await?;
    let (status, body) = d
        .call_as(
            Some(&token),
            "GET",
            "/api/v1/instances?owner=admin",
            Value::Null,
        )
        .await?;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(body.to_string().contains("owner"), "{body}");
    let (status, body) = d
        .call_as(
            Some(&token),
            "GET",
            "/api/v1/instances?owner=lst-alice",
            Value::Null,
        )
        .await?;
    assert_eq!(status, StatusCode::OK, "{body}");
    Ok(())
}

#[tokio::test]
async fn the_etag_answers_304_until_an_instance_or_its_state_changes() -> TestResult {
    let d = SimDaemon::start(&[]).await?;
    d.launch("lst-etag").await?;
    let (status, headers, _) = get(&d, "/api/v1/instances", &[]).await?;
    assert_eq!(status, StatusCode::OK);
    let etag = headers.get("etag").ok_or("no ETag")?.to_str()?.to_owned();

    let (status, headers, body) = get(&d, "/api/v1/instances", &[("if-none-match", &etag)]).await?;
    assert_eq!(status, StatusCode::NOT_MODIFIED, "{body}");
    assert_eq!(body, Value::Null);
    assert_eq!(
        headers.get("etag").and_then(|v| v.to_str().ok()),
        Some(etag.as_str())
    );

    // Another query is another resource: its own tag.
    let (status, _, _) = get(&d, "/api/v1/instances?limit=5", &[("if-none-match", &etag)]).await?;
    assert_eq!(status, StatusCode::OK);

    // A state change moves it.
    let (status, body) = d
        .call("POST", "/api/v1/instances/lst-etag/stop", json!({}))
        .await?;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    d.wait_success(&body).await?;
    let (status, headers, body) = get(&d, "/api/v1/instances", &[("if-none-match", &etag)]).await?;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body[0]["state"], "stopped");
    let stopped = headers.get("etag").ok_or("no ETag")?.to_str()?.to_owned();
    assert_ne!(stopped, etag);

    // So does a new instance, and a deleted one.
    d.launch("lst-etag-2").await?;
    let (status, headers, _) = get(&d, "/api/v1/instances", &[("if-none-match", &stopped)]).await?;
    assert_eq!(status, StatusCode::OK);
    let two = headers.get("etag").ok_or("no ETag")?.to_str()?.to_owned();
    let (status, body) = d
        .call(
            "DELETE",
            "/api/v1/instances/lst-etag-2",
            json!({"force": true}),
        )
        .await?;
    assert!(status.is_success(), "{body}");
    if status == StatusCode::ACCEPTED {
        d.wait_success(&body).await?;
    }
    let (status, _, body) = get(&d, "/api/v1/instances", &[("if-none-match", &two)]).await?;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(names(&body), ["lst-etag"]);
    Ok(())
}
