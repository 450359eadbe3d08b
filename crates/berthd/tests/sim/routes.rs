//! The API's contract, checked class by class for every route rather than by example. The
//! router, the guard's access rules and the OpenAPI description are built from the same
//! declarations (each handler's `#[utoipa::path]`); these tests prove they cover each other.

use crate::common;

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

/// One request with a raw body and headers, as root on the socket; status, headers, JSON.
async fn raw(
    daemon: &SimDaemon,
    method: &str,
    path: &str,
    content_type: Option<&str>,
    body: &'static str,
) -> Result<(StatusCode, axum::http::HeaderMap, Value), Box<dyn std::error::Error>> {
    use http_body_util::BodyExt;
    use tower::ServiceExt;
    let mut builder = axum::http::Request::builder().method(method).uri(path);
    if let Some(content_type) = content_type {
        builder = builder.header("content-type", content_type);
    }
    let mut request = builder.body(axum::body::Body::from(body))?;
    request
        .extensions_mut()
        .insert(berthd::api::Transport::Socket {
            uid: 0,
            admitted: true,
        });
    let response = berthd::api::router(daemon.app.clone())
        .oneshot(request)
        .await?;
    let (status, headers) = (response.status(), response.headers().clone());
    let bytes = response.into_body().collect().await?.to_bytes();
    let json = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    Ok((status, headers, json))
}

/// Whether `answer` is the error body with this code.
fn is_error(answer: &Value, code: &str) -> bool {
    answer["error"]["code"] == code && answer["error"]["message"].is_string()
}

#[tokio::test]
async fn an_undeclared_method_on_any_path_is_405_with_allow() -> TestResult {
    let daemon = SimDaemon::start(&[]).await?;
    let documented = documented()?;
    let paths: BTreeSet<&String> = documented.iter().map(|(_, p)| p).collect();
    for path in paths {
        let declared: BTreeSet<String> = documented
            .iter()
            .filter(|(_, p)| p == path)
            .map(|(m, _)| m.clone())
            .collect();
        let concrete = concrete_path(path);
        for method in [
            "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE",
        ] {
            let answers =
                declared.contains(method) || (method == "HEAD" && declared.contains("GET"));
            if answers {
                continue;
            }
            let (status, headers, answer) = raw(&daemon, method, &concrete, None, "").await?;
            assert_eq!(
                status,
                StatusCode::METHOD_NOT_ALLOWED,
                "{method} {concrete}: {answer}"
            );
            let allow = headers
                .get("allow")
                .and_then(|v| v.to_str().ok())
                .ok_or(format!("{method} {concrete}: no Allow"))?;
            let allowed: BTreeSet<String> = allow
                .split(',')
                .map(|m| m.trim().to_owned())
                .filter(|m| m != "HEAD")
                .collect();
            assert_eq!(allowed, declared, "{method} {concrete}: Allow {allow}");
            if method != "HEAD" {
                assert!(
                    is_error(&answer, "method_not_allowed"),
                    "{method} {concrete}: {answer}"
                );
            }
        }
    }
    Ok(())
}

#[tokio::test]
async fn a_body_of_an_undeclared_type_is_415_and_trailing_json_is_400() -> TestResult {
    let daemon = SimDaemon::start(&[]).await?;
    let mut checked = 0;
    for route in berthd::api::route_table().iter() {
        if route.body_types.is_empty() {
            continue;
        }
        let method = route.method.as_str();
        let path = concrete_path(&route.path);
        for wrong in [
            Some("text/plain"),
            Some("application/x-www-form-urlencoded"),
            None,
        ] {
            let (status, _, answer) = raw(&daemon, method, &path, wrong, "{}").await?;
            assert_eq!(
                status,
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "{method} {path} as {wrong:?}: {answer}"
            );
            assert!(
                is_error(&answer, "unsupported_media_type"),
                "{method} {path}: {answer}"
            );
        }
        if route.body_types.iter().any(|t| t == "application/json") {
            for trailing in ["{} x", "{}{}", "{} []", "null null"] {
                let json = Some("application/json; charset=utf-8");
                let (status, _, answer) = raw(&daemon, method, &path, json, trailing).await?;
                assert_eq!(
                    status,
                    StatusCode::BAD_REQUEST,
                    "{method} {path} {trailing:?}: {answer}"
                );
                assert_eq!(
                    answer["error"]["field"], "body",
                    "{method} {path}: {answer}"
                );
            }
        }
        checked += 1;
    }
    assert!(checked >= 25, "only {checked} operations take a body");
    Ok(())
}

#[tokio::test]
async fn query_string_errors_answer_the_error_body_naming_the_parameter() -> TestResult {
    let daemon = SimDaemon::start(&[]).await?;
    let doc: Value = serde_json::from_str(&berthd::api::openapi::json())?;
    let mut checked = 0;
    for (path, item) in doc["paths"].as_object().ok_or("paths")? {
        for (method, op) in item.as_object().ok_or("item")? {
            let params = op["parameters"].as_array().into_iter().flatten();
            for param in params.filter(|p| p["in"] == "query") {
                let name = param["name"].as_str().unwrap_or_default();
                let numeric = ["integer", "number", "boolean"]
                    .iter()
                    .any(|t| param["schema"]["type"].to_string().contains(t));
                let required = param["required"] == true;
                if !numeric && !required {
                    continue;
                }
                // A number that is none, or a required parameter left out.
                let query = if numeric {
                    format!("?{name}=not-a-number")
                } else {
                    String::new()
                };
                let target = format!("{}{query}", concrete_path(path));
                let method = method.to_uppercase();
                let (status, _, answer) = raw(&daemon, &method, &target, None, "").await?;
                assert_eq!(
                    status,
                    StatusCode::BAD_REQUEST,
                    "{method} {target}: {answer}"
                );
                assert!(is_error(&answer, "invalid"), "{method} {target}: {answer}");
                assert_eq!(
                    answer["error"]["field"], name,
                    "{method} {target}: {answer}"
                );
                checked += 1;
            }
        }
    }
    assert!(checked >= 5, "only {checked} query parameters checked");
    Ok(())
}
