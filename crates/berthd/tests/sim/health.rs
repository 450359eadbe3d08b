//! `GET /healthz`: liveness for load balancers, no credential, no detail.

use crate::common;

use axum::http::StatusCode;
use common::{SimDaemon, TestResult};
use serde_json::Value;

#[tokio::test]
async fn healthz_answers_ok_to_anyone_without_detail() -> TestResult {
    let d = SimDaemon::start(&[]).await?;
    // No credential over TCP, as a load balancer asks.
    let (status, headers, body) = d
        .request(common::tcp(), &[], "GET", "/healthz", Value::Null)
        .await?;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body, Value::String("ok".into()));
    let kind = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    assert!(kind.starts_with("text/plain"), "{kind}");
    // It is described, with its rule, like every route.
    let doc = berthd::api::openapi::document();
    let op = doc
        .paths
        .paths
        .get("/healthz")
        .and_then(|item| item.get.as_ref())
        .ok_or("/healthz is not in the description")?;
    assert_eq!(
        berthd::api::access::rule_of(op),
        Some(berthd::api::access::Rule::reads(
            berthd::api::access::Who::Anyone
        ))
    );
    Ok(())
}
