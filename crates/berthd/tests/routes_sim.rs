//! The API's contract, checked class by class for every route rather than by example. The
//! router, the guard's access rules and the OpenAPI description are built from the same
//! declarations (each handler's `#[utoipa::path]`); these tests prove they cover each other.

mod common;

use std::collections::BTreeSet;

use axum::http::StatusCode;
use common::{SimDaemon, TestResult, concrete_path};
use serde_json::{Value, json};

/// `(METHOD, path)` of every operation in the published description.
fn documented() -> Result<BTreeSet<(String, String)>, Box<dyn std::error::Error>> {
    let doc: Value = serde_json::from_str(&berthd::api::openapi::json())?;
    let mut out = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().ok_or("paths")? {
        for method in item.as_object().ok_or("path item")?.keys() {
            out.insert((method.to_uppercase(), path.clone()));
        }
    }
    Ok(out)
}

#[test]
fn routes_rules_and_the_description_cover_each_other() -> TestResult {
    let table = berthd::api::route_table();
    let routed: BTreeSet<(String, String)> = table
        .iter()
        .map(|r| (r.method.to_string(), r.path.replace("{*", "{")))
        .collect();
    assert_eq!(
        routed,
        documented()?,
        "routed and documented operations differ"
    );
    let mut actions = BTreeSet::new();
    for route in table.iter() {
        assert!(route.rule.is_some(), "{route:?} declares no access rule");
        assert!(!route.action.is_empty(), "{route:?} has no operation id");
        assert!(
            actions.insert(route.action.clone()),
            "operation id {} is used twice",
            route.action
        );
    }
    Ok(())
}

#[tokio::test]
async fn every_documented_operation_reaches_its_handler() -> TestResult {
    let daemon = SimDaemon::start(&[]).await?;
    for route in berthd::api::route_table().iter() {
        if route.action.starts_with("auth.") {
            continue; // would end the session or log in: covered by auth_sim
        }
        let path = concrete_path(&route.path);
        let body = json!({"__not_a_field": true});
        let (status, answer) = daemon.call(route.method.as_str(), &path, body).await?;
        let fallback = answer["error"]["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("no such API path"));
        assert!(
            status != StatusCode::METHOD_NOT_ALLOWED && !fallback,
            "{} {path} is documented but not routed: {status} {answer}",
            route.method
        );
    }
    Ok(())
}
