//! The embedded web UI: `/` and `/assets/…` are public, typed, gzip-capable and locked to our
//! own origin by their CSP; the API's JSON 404 is unchanged. The browser test of the pages
//! themselves is web/tests/ui.test.mjs (run by scripts/test.sh).

use crate::common;

use axum::http::StatusCode;
use common::{SimDaemon, TestResult, tcp};
use serde_json::Value;

fn header<'a>(headers: &'a axum::http::HeaderMap, name: &str) -> &'a str {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

#[tokio::test]
async fn the_ui_is_served_at_the_root_without_credentials() -> TestResult {
    let d = SimDaemon::start(&[]).await?;
    let (status, headers, body) = d.request(tcp(), &[], "GET", "/", Value::Null).await?;
    assert_eq!(status, StatusCode::OK);
    assert!(header(&headers, "content-type").starts_with("text/html"));
    let csp = header(&headers, "content-security-policy");
    assert!(csp.contains("default-src 'self'") && csp.contains("script-src 'self'"));
    assert_eq!(header(&headers, "x-content-type-options"), "nosniff");
    let html = body.as_str().ok_or("the index is not text")?;
    assert!(html.contains("id=\"app\""), "{html}");
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "nothing is loaded from another host: {html}"
    );

    // Every script and stylesheet the page names is there, with its type.
    for (asset, kind) in [
        ("/assets/app.js", "text/javascript"),
        ("/assets/app.css", "text/css"),
    ] {
        if !html.contains(asset) {
            continue; // the placeholder page of a berthd built without web/dist
        }
        let (status, headers, _) = d.request(tcp(), &[], "GET", asset, Value::Null).await?;
        assert_eq!(status, StatusCode::OK, "{asset}");
        assert!(
            header(&headers, "content-type").starts_with(kind),
            "{asset}"
        );
        let gzip = [("accept-encoding".to_owned(), "br, gzip;q=0.8".to_owned())];
        let (status, headers, _) = d.request(tcp(), &gzip, "GET", asset, Value::Null).await?;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(header(&headers, "content-encoding"), "gzip", "{asset}");
        assert_eq!(header(&headers, "vary"), "accept-encoding");
    }
    Ok(())
}

#[tokio::test]
async fn unknown_files_are_404_and_the_api_keeps_its_json_errors() -> TestResult {
    let d = SimDaemon::start(&[]).await?;
    let (status, _, _) = d
        .request(tcp(), &[], "GET", "/assets/nope.js", Value::Null)
        .await?;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _, _) = d
        .request(tcp(), &[], "GET", "/assets/../Cargo.toml", Value::Null)
        .await?;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, body) = d.call("GET", "/api/v1/nope", Value::Null).await?;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"]["code"], "not_found");
    // The API still needs a credential over TCP: the public UI opened nothing else.
    let (status, _) = d
        .call_as(None, "GET", "/api/v1/instances", Value::Null)
        .await?;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    Ok(())
}
