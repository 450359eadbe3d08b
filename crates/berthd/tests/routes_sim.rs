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

#[test]
fn the_description_states_security_parameters_and_errors_for_every_operation() -> TestResult {
    let doc: Value = serde_json::from_str(&berthd::api::openapi::json())?;
    let schemes = doc["components"]["securitySchemes"]
        .as_object()
        .ok_or("no securitySchemes")?;
    for scheme in ["bearer", "session_cookie", "csrf_header"] {
        assert!(schemes.contains_key(scheme), "no {scheme} scheme");
    }
    for (path, item) in doc["paths"].as_object().ok_or("paths")? {
        for (method, op) in item.as_object().ok_or("item")? {
            let what = format!("{method} {path}");
            let rule = &op["x-berth-access"];
            let public = rule["who"] == "anyone";
            let security = op["security"]
                .as_array()
                .ok_or(format!("{what}: no security"))?;
            assert_eq!(security.is_empty(), public, "{what}: security {security:?}");
            if rule["writes"] == true && !public {
                assert!(
                    security.iter().any(|s| s.get("csrf_header").is_some()),
                    "{what}: a change by cookie must need the CSRF header"
                );
            }
            let responses = op["responses"].as_object().ok_or("responses")?;
            let mut needed = vec!["405"];
            if !public {
                needed.extend(["401", "403"]);
            }
            if op.get("requestBody").is_some() {
                needed.extend(["400", "415"]);
            }
            if path.contains('{') {
                needed.extend(["400", "404"]);
            }
            for status in needed {
                assert!(
                    responses.contains_key(status),
                    "{what}: {status} undocumented"
                );
            }
            for (status, response) in responses {
                if status.starts_with('4') {
                    let body = serde_json::to_string(response)?;
                    assert!(
                        body.contains("ErrorBody") || body.contains("#/components/responses/"),
                        "{what}: {status} without the error body"
                    );
                }
            }
            for param in op["parameters"].as_array().into_iter().flatten() {
                let name = param["name"].as_str().unwrap_or_default();
                let in_path = path.contains(&format!("{{{name}}}"));
                let declared = param["in"].as_str().unwrap_or_default();
                assert_eq!(
                    declared,
                    if in_path { "path" } else { "query" },
                    "{what}: parameter {name}"
                );
            }
            for (media, content) in op["requestBody"]["content"]
                .as_object()
                .into_iter()
                .flatten()
            {
                if media != "application/json" {
                    let schema = serde_json::to_string(&content["schema"])?;
                    assert!(
                        schema.contains("Binary"),
                        "{what}: {media} body is not binary: {schema}"
                    );
                }
            }
        }
    }
    let binary = &doc["components"]["schemas"]["Binary"];
    assert_eq!(
        (binary["type"].as_str(), binary["format"].as_str()),
        (Some("string"), Some("binary"))
    );
    Ok(())
}
