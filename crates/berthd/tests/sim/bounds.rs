//! Every number a client can send, through the real router on the sim backend. The numeric
//! fields are read from the OpenAPI description (request bodies and query parameters), so a
//! new one is covered without editing this test: each gets values no host can hold
//! (`u64::MAX`, `i64::MAX`, `1e308`, `-1`). None may answer 5xx; `u64::MAX` must be refused
//! with a 4xx naming the field; and afterwards the caller's account still works (no quota sum
//! poisoned, as `limits.memory = 18446744073709551615` once did).

use crate::common;

use std::collections::BTreeMap;

use axum::http::StatusCode;
use common::{SimDaemon, TestResult};
use serde_json::{Value, json};

const ALICE_PW: &str = "Sails-Far-Northward-31";

/// The numeric fields of a schema, as JSON paths (`limits.memory`, `quota.port_range[]`).
fn numeric_fields(doc: &Value, schema: &Value, prefix: &str, out: &mut Vec<String>, depth: u8) {
    if depth > 6 {
        return;
    }
    if let Some(reference) = schema["$ref"].as_str() {
        let name = reference.rsplit('/').next().unwrap_or_default();
        return numeric_fields(
            doc,
            &doc["components"]["schemas"][name],
            prefix,
            out,
            depth + 1,
        );
    }
    for key in ["oneOf", "anyOf", "allOf"] {
        for sub in schema[key].as_array().into_iter().flatten() {
            numeric_fields(doc, sub, prefix, out, depth + 1);
        }
    }
    let types: Vec<&str> = match &schema["type"] {
        Value::String(t) => vec![t.as_str()],
        Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
        _ => vec![],
    };
    if types.iter().any(|t| *t == "integer" || *t == "number") && !prefix.is_empty() {
        out.push(prefix.to_owned());
    }
    if types.contains(&"array") && !prefix.is_empty() {
        numeric_fields(
            doc,
            &schema["items"],
            &format!("{prefix}[]"),
            out,
            depth + 1,
        );
    }
    for (name, sub) in schema["properties"].as_object().into_iter().flatten() {
        let path = if prefix.is_empty() {
            name.clone()
        } else {
            format!("{prefix}.{name}")
        };
        numeric_fields(doc, sub, &path, out, depth + 1);
    }
}

/// `base` with the field at `path` set to `value` (objects made on the way; `x[]` is `[v, v]`).
fn with_field(base: &Value, path: &str, value: &Value) -> Value {
    let mut body = base.clone();
    let mut at = &mut body;
    let parts: Vec<&str> = path.split('.').collect();
    for (i, part) in parts.iter().enumerate() {
        let last = i + 1 == parts.len();
        if !at.is_object() {
            *at = json!({});
        }
        let (key, array) = match part.strip_suffix("[]") {
            Some(key) => (key, true),
            None => (*part, false),
        };
        let slot = at
            .as_object_mut()
            .map(|o| o.entry(key.to_owned()).or_insert(Value::Null));
        let Some(slot) = slot else { return body };
        if last {
            *slot = if array {
                json!([value, value])
            } else {
                value.clone()
            };
            return body;
        }
        at = slot;
    }
    body
}

/// A body each route accepts as it is, to change one field of; and who sends it.
fn bases() -> BTreeMap<(&'static str, &'static str), (Value, bool)> {
    let user = false;
    let admin = true;
    BTreeMap::from([
        (
            ("POST", "/api/v1/instances"),
            (json!({"image": "debian/12"}), user),
        ),
        (
            ("PATCH", "/api/v1/instances/{name}"),
            (json!({"snapshots": {"schedule": "@daily"}}), user),
        ),
        (("DELETE", "/api/v1/instances/{name}"), (json!({}), user)),
        (
            ("POST", "/api/v1/instances/{name}/start"),
            (json!({}), user),
        ),
        (("POST", "/api/v1/instances/{name}/stop"), (json!({}), user)),
        (
            ("POST", "/api/v1/instances/{name}/restart"),
            (json!({}), user),
        ),
        (
            ("POST", "/api/v1/instances/{name}/suspend"),
            (json!({}), user),
        ),
        (
            ("POST", "/api/v1/instances/{name}/resume"),
            (json!({}), user),
        ),
        (
            ("POST", "/api/v1/instances/{name}/exec"),
            (json!({"command": ["true"]}), user),
        ),
        (
            ("POST", "/api/v1/instances/{name}/forwards"),
            (json!({"listen": "18080"}), user),
        ),
        (
            ("POST", "/api/v1/alerts/rules"),
            (json!({"metric": "cpu_percent", "threshold": 90}), user),
        ),
        (("PATCH", "/api/v1/alerts/rules/{id}"), (json!({}), user)),
        (
            ("POST", "/api/v1/run"),
            (json!({"image": "oci:nosuch"}), admin),
        ),
        // The base is the current settings (GET), read in the test.
        (("PUT", "/api/v1/settings"), (json!({}), admin)),
        (
            ("POST", "/api/v1/users"),
            (
                json!({"username": "u-x", "password": "Long-Enough-Pass-1"}),
                admin,
            ),
        ),
        (("PATCH", "/api/v1/users/{id}"), (json!({}), admin)),
    ])
}

const EXTREMES: [&str; 4] = ["18446744073709551615", "9223372036854775807", "1e308", "-1"];

#[tokio::test]
async fn no_number_a_client_can_send_breaks_the_daemon() -> TestResult {
    let d = SimDaemon::start(&[]).await?;
    let alice = d.user("alice", ALICE_PW).await?;
    let (status, body) = d
        .call_as(
            Some(&alice),
            "POST",
            "/api/v1/instances",
            json!({"name": "a-web", "image": "debian/12"}),
        )
        .await?;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    d.wait_success(&body).await?;
    let (_, rule) = d
        .call_as(
            Some(&alice),
            "POST",
            "/api/v1/alerts/rules",
            json!({"metric": "cpu_percent", "threshold": 90}),
        )
        .await?;
    let rule_id = rule["id"].as_str().ok_or("rule id")?.to_owned();
    let (_, users) = d.call("GET", "/api/v1/users", Value::Null).await?;
    let alice_id = users
        .as_array()
        .into_iter()
        .flatten()
        .find(|u| u["username"] == "alice")
        .and_then(|u| u["id"].as_str())
        .ok_or("alice's id")?
        .to_owned();
    let concrete = |template: &str| {
        template.replace("{name}", "a-web").replace(
            "{id}",
            if template.contains("alerts") {
                &rule_id
            } else {
                &alice_id
            },
        )
    };

    let (_, settings) = d.call("GET", "/api/v1/settings", Value::Null).await?;
    let doc: Value = serde_json::from_str(&berthd::api::openapi::json())?;
    let bases = bases();
    let mut checked = 0;
    for (template, methods) in doc["paths"].as_object().ok_or("paths")? {
        for (method, op) in methods.as_object().ok_or("methods")? {
            let method = method.to_uppercase();
            let schema = &op["requestBody"]["content"]["application/json"]["schema"];
            let mut fields = Vec::new();
            numeric_fields(&doc, schema, "", &mut fields, 0);
            let mut query = Vec::new();
            for param in op["parameters"].as_array().into_iter().flatten() {
                let mut found = Vec::new();
                numeric_fields(&doc, &param["schema"], "x", &mut found, 0);
                if !found.is_empty() {
                    query.push(param["name"].as_str().unwrap_or_default().to_owned());
                }
            }
            if fields.is_empty() && query.is_empty() {
                continue;
            }
            let key = (method.as_str(), template.as_str());
            let (base, as_admin) = match bases.iter().find(|(k, _)| **k == key) {
                // A full replace: every field must be there for a number to be reached.
                Some(((_, "/api/v1/settings"), (_, admin))) => (settings.clone(), *admin),
                Some((_, base)) => base.clone(),
                None if fields.is_empty() => (Value::Null, false),
                None => return Err(format!("{method} {template} has numeric fields {fields:?}; give it a base body in bounds_sim").into()),
            };
            let bearer = (!as_admin).then_some(alice.as_str());
            let path = concrete(template);
            for field in &fields {
                for raw in EXTREMES {
                    let value: Value = serde_json::from_str(raw)?;
                    let body = with_field(&base, field, &value);
                    let (status, answer) = call(&d, bearer, &method, &path, body).await?;
                    assert!(
                        status.as_u16() < 500,
                        "{method} {path} {field}={raw}: {status} {answer}"
                    );
                    if raw == EXTREMES[0] {
                        assert!(
                            status.is_client_error(),
                            "{method} {path} {field}={raw} was accepted: {answer}"
                        );
                        let named = answer["error"]["field"].as_str().unwrap_or_default();
                        let want = field.trim_end_matches("[]");
                        assert!(
                            named.starts_with(want.split('.').next().unwrap_or(want)),
                            "{method} {path} {field}: the error names {named:?}: {answer}"
                        );
                    }
                    checked += 1;
                }
            }
            for name in &query {
                for raw in EXTREMES {
                    let separator = if path.contains('?') { '&' } else { '?' };
                    let url = format!("{path}{separator}{name}={raw}");
                    let (status, answer) = call(&d, bearer, &method, &url, base.clone()).await?;
                    assert!(status.as_u16() < 500, "{method} {url}: {status} {answer}");
                    checked += 1;
                }
            }
        }
    }
    eprintln!("{checked} extreme values tried");
    assert!(checked > 150, "only {checked} values were tried");
    // Alice's account still works: her usage sums, her list, a create of her own.
    let (status, me) = d
        .call_as(Some(&alice), "GET", "/api/v1/auth/me", Value::Null)
        .await?;
    assert_eq!(status, StatusCode::OK, "{me}");
    let (status, _) = d
        .call_as(Some(&alice), "GET", "/api/v1/instances", Value::Null)
        .await?;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = d
        .call_as(
            Some(&alice),
            "POST",
            "/api/v1/instances",
            json!({"name": "a-after", "image": "debian/12"}),
        )
        .await?;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    Ok(())
}

async fn call(
    d: &SimDaemon,
    bearer: Option<&str>,
    method: &str,
    path: &str,
    body: Value,
) -> Result<(StatusCode, Value), Box<dyn std::error::Error>> {
    match bearer {
        Some(bearer) => d.call_as(Some(bearer), method, path, body).await,
        None => d.call(method, path, body).await,
    }
}
