//! What the API fuzzer (`api_fuzz.rs`, schemathesis) found, each kept as the request that
//! found it, through the real router on the sim backend. Every answer must be one the
//! operation documents, in the error body.

use crate::common;

use axum::http::StatusCode;
use common::{SimDaemon, TestResult};
use serde_json::{Value, json};

/// The statuses the published description documents for `method` on `template`.
fn documented(method: &str, template: &str) -> Result<Vec<u16>, Box<dyn std::error::Error>> {
    let doc: Value = serde_json::from_str(&berthd::api::openapi::json())?;
    let responses = doc["paths"][template][method.to_lowercase()]["responses"]
        .as_object()
        .ok_or(format!("{method} {template} is not documented"))?;
    Ok(responses.keys().filter_map(|s| s.parse().ok()).collect())
}

fn assert_documented(
    status: StatusCode,
    answer: &Value,
    method: &str,
    template: &str,
) -> TestResult {
    let statuses = documented(method, template)?;
    assert!(
        statuses.contains(&status.as_u16()),
        "{method} {template}: {status} is not among {statuses:?}: {answer}"
    );
    if !status.is_success() {
        assert!(
            answer["error"]["code"].is_string(),
            "{method} {template}: {answer}"
        );
    }
    Ok(())
}

/// `POST /tokens` with `"expires_in": "ç"` panicked in the duration parser (a byte index
/// inside a two-byte character) and dropped the connection without an answer.
#[tokio::test]
async fn a_duration_with_a_wide_character_is_a_400_not_a_dropped_connection() -> TestResult {
    let d = SimDaemon::start(&[]).await?;
    for expires_in in ["ç", "7ç", "\u{1F600}"] {
        let body =
            json!({"scope": "full", "name": "image", "expires_at": null, "expires_in": expires_in});
        let (status, answer) = d.call("POST", "/api/v1/tokens", body).await?;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{expires_in:?}: {answer}");
        assert_eq!(answer["error"]["field"], "expires_in", "{answer}");
    }
    Ok(())
}

/// `POST /instances/{name}/files` on a running sim instance answered 500: the app opened
/// `/proc/<pid>/root` for the pid the sim backend made up, which may be any host process's
/// (then it would have written to the host). A guest whose init is not among this host's
/// processes is reached through its root filesystem only (the sim tier's are real
/// directories): the file lands there, never on the host, and reads back.
#[tokio::test]
async fn files_of_a_guest_not_on_this_host_go_to_its_root_filesystem_never_the_host() -> TestResult
{
    let d = SimDaemon::start(&[]).await?;
    d.launch("fz-user").await?;
    let host_file = std::env::temp_dir().join(format!("berth-fuzz-seed-{}", std::process::id()));
    let path = host_file.display().to_string();
    let push = format!("/api/v1/instances/fz-user/files?path={path}");
    let headers = vec![(
        "content-type".to_owned(),
        "application/octet-stream".to_owned(),
    )];
    let socket = berthd::api::Transport::Socket {
        uid: 0,
        admitted: true,
    };
    let (status, _, answer) = d
        .request(socket, &headers, "POST", &push, json!("\u{fffd}-\u{fffd}"))
        .await?;
    assert!(status.is_success(), "{status}: {answer}");
    assert_documented(status, &answer, "POST", "/api/v1/instances/{name}/files")?;
    assert!(
        !host_file.exists(),
        "a push to a sim guest wrote {path} on the host"
    );
    let (status, answer) = d
        .call(
            "GET",
            &format!("/api/v1/instances/fz-user/files?path={path}"),
            Value::Null,
        )
        .await?;
    assert_eq!(status, StatusCode::OK, "{answer}");
    Ok(())
}

/// HEAD on a GET route reached the guard as a method without a rule: 500. It follows GET.
#[tokio::test]
async fn head_follows_get_and_an_undeclared_method_is_405() -> TestResult {
    let d = SimDaemon::start(&[]).await?;
    let (status, answer) = d.call("HEAD", "/api/v1/system", Value::Null).await?;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let (status, answer) = d
        .call("HEAD", "/api/v1/instances/nosuch", Value::Null)
        .await?;
    assert_eq!(status, StatusCode::NOT_FOUND, "{answer}");
    let socket = berthd::api::Transport::Socket {
        uid: 0,
        admitted: true,
    };
    let (status, headers, answer) = d
        .request(socket, &[], "PUT", "/api/v1/instances", Value::Null)
        .await?;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED, "{answer}");
    assert_eq!(answer["error"]["code"], "method_not_allowed", "{answer}");
    let allow = headers
        .get("allow")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    assert!(
        allow.contains("GET") && allow.contains("POST"),
        "Allow: {allow}"
    );
    assert_documented(status, &answer, "GET", "/api/v1/instances")?;
    Ok(())
}
