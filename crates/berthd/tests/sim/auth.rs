//! Authentication and authorisation through the real router on the sim backend: every route ×
//! {anonymous, user A, user B, A's read-only token, admin}, rate limiting, quota races, ownership and secrets kept out of answers and the audit log.

use crate::{auth_support, common};

use auth_support::*;
use axum::http::StatusCode;
use berthd::api::access::{Route, Rule, Who};
use common::{ADMIN_PASSWORD, SimDaemon, TestResult, tcp};
use serde_json::{Value, json};

/// The concrete path of a route: A's instance and operation, other ids that do not exist.
fn concrete(route: &Route, rule: &Rule, cast: &Cast) -> String {
    let id = match rule.who {
        Who::OperationOwner => cast.alice_op.clone(),
        _ if route.path.starts_with("/api/v1/users/{id}") => {
            "00000000-0000-4000-8000-000000000001".into()
        }
        _ => "00000000-0000-4000-8000-000000000002".into(),
    };
    route
        .path
        .replace("{name}", "a-web")
        .replace("{id}", &id)
        .replace("{snap}", "nosnap")
        .replace("{*alias}", "debian/99")
}

/// Whether the guard refused (as opposed to the handler answering).
fn guard_refused(status: StatusCode, body: &Value, rule: &Rule, cast: &Cast) -> bool {
    let message = body["error"]["message"].as_str().unwrap_or_default();
    let hidden = match rule.who {
        Who::InstanceOwner => message == "instance a-web not found",
        Who::OperationOwner => message == format!("operation {} not found", cast.alice_op),
        _ => false,
    };
    status == StatusCode::UNAUTHORIZED
        || status == StatusCode::FORBIDDEN
        || (status == StatusCode::NOT_FOUND && hidden)
}

#[tokio::test]
async fn every_route_for_every_kind_of_caller() -> TestResult {
    let daemon = SimDaemon::start(&[]).await?;
    let cast = cast(&daemon).await?;
    // Side effects are avoided: allowed writes get a body every handler rejects, ids that do
    // not exist, and no logout/refresh.
    let garbage = json!({"__not_a_field": true});
    let routes = berthd::api::route_table();
    assert!(
        routes.iter().count() > 60,
        "the route table is nearly empty"
    );
    for route in routes.iter() {
        let rule = &route
            .rule
            .ok_or_else(|| format!("{route:?} declares no rule"))?;
        let method = route.method.as_str();
        let path = concrete(route, rule, &cast);
        let body = if method == "GET" {
            Value::Null
        } else {
            garbage.clone()
        };
        let who: [(&str, Option<&str>); 5] = [
            ("anonymous", None),
            ("bob", Some(&cast.bob)),
            ("alice-read-only", Some(&cast.alice_reader)),
            ("alice", Some(&cast.alice)),
            ("admin", Some(&cast.admin)),
        ];
        for (name, bearer) in who {
            let skip = matches!(
                route.action.as_str(),
                "auth.logout" | "auth.refresh" | "auth.login"
            ) && bearer.is_some();
            if skip {
                continue;
            }
            let (status, answer) = daemon.call_as(bearer, method, &path, body.clone()).await?;
            let refused = guard_refused(status, &answer, rule, &cast);
            let expected_refusal = match (name, rule.who) {
                (_, Who::Anyone) => None,
                ("anonymous", _) => Some(StatusCode::UNAUTHORIZED),
                ("admin", _) => None,
                (_, Who::Admin) => Some(StatusCode::FORBIDDEN),
                ("bob", Who::InstanceOwner | Who::OperationOwner) => Some(StatusCode::NOT_FOUND),
                ("alice-read-only", _) if rule.writes => Some(StatusCode::FORBIDDEN),
                _ => None,
            };
            match expected_refusal {
                Some(expected) => assert_eq!(
                    (status, refused),
                    (expected, true),
                    "{name} {method} {path}: {answer}"
                ),
                None => assert!(
                    !refused,
                    "{name} {method} {path} was refused: {status} {answer}"
                ),
            }
        }
    }
    // Nothing changed: both instances are still there.
    let (_, all) = daemon.call("GET", "/api/v1/instances", Value::Null).await?;
    assert_eq!(all.as_array().map(Vec::len), Some(2), "{all}");
    Ok(())
}

#[tokio::test]
async fn ownership_lists_and_admin_acting_for_a_user() -> TestResult {
    let daemon = SimDaemon::start(&[]).await?;
    let cast = cast(&daemon).await?;
    let names = |list: &Value| -> Vec<String> {
        list.as_array()
            .into_iter()
            .flatten()
            .filter_map(|i| i["name"].as_str().map(str::to_owned))
            .collect()
    };
    let (_, mine) = daemon
        .call_as(Some(&cast.alice), "GET", "/api/v1/instances", Value::Null)
        .await?;
    assert_eq!(names(&mine), ["a-web"]);
    let (_, theirs) = daemon
        .call_as(Some(&cast.bob), "GET", "/api/v1/instances", Value::Null)
        .await?;
    assert_eq!(names(&theirs), ["b-web"]);
    assert_eq!(theirs[0]["owner"], "bob");
    let (_, all) = daemon
        .call_as(Some(&cast.admin), "GET", "/api/v1/instances", Value::Null)
        .await?;
    assert_eq!(names(&all).len(), 2);
    let (_, ops) = daemon
        .call_as(Some(&cast.bob), "GET", "/api/v1/operations", Value::Null)
        .await?;
    assert!(
        ops.as_array()
            .ok_or("ops")?
            .iter()
            .all(|op| op["owner"] == "bob"),
        "{ops}"
    );
    // A user cannot create for someone else.
    let (status, body) = daemon
        .call_as(
            Some(&cast.alice),
            "POST",
            "/api/v1/instances",
            json!({"image": "debian/12", "owner": "bob"}),
        )
        .await?;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    // Deleting a user who owns instances is refused, naming them.
    let (status, body) = daemon
        .call(
            "DELETE",
            &format!("/api/v1/users/{}", cast.bob_id),
            Value::Null,
        )
        .await?;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    Ok(())
}

#[tokio::test]
async fn logins_are_rate_limited_with_one_message_for_unknown_users_and_wrong_passwords()
-> TestResult {
    let daemon = SimDaemon::start(&[]).await?;
    let (_, unknown) = daemon
        .call_as(
            None,
            "POST",
            "/api/v1/auth/login",
            json!({"username": "nobody", "password": "Whatever-123"}),
        )
        .await?;
    let (_, wrong) = daemon
        .call_as(
            None,
            "POST",
            "/api/v1/auth/login",
            json!({"username": "admin", "password": "Whatever-123"}),
        )
        .await?;
    assert_eq!(unknown["error"]["message"], wrong["error"]["message"]);
    let mut last = (StatusCode::OK, axum::http::HeaderMap::new());
    for _ in 0..8 {
        let (status, headers, _) = daemon
            .request(
                tcp(),
                &[],
                "POST",
                "/api/v1/auth/login",
                json!({"username": "admin", "password": "Wrong-Guess-999"}),
            )
            .await?;
        last = (status, headers);
    }
    assert_eq!(last.0, StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = last
        .1
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .ok_or("Retry-After")?;
    assert!(retry >= 1);
    // Even the right password waits now.
    let (status, _) = daemon
        .call_as(
            None,
            "POST",
            "/api/v1/auth/login",
            json!({"username": "admin", "password": ADMIN_PASSWORD}),
        )
        .await?;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    Ok(())
}

#[tokio::test]
async fn concurrent_creates_cannot_pass_the_quota_together() -> TestResult {
    let daemon = std::sync::Arc::new(SimDaemon::start(&[]).await?);
    let (status, body) = daemon
        .call("POST", "/api/v1/users", json!({"username": "carol", "password": "Counts-Boats-Daily-5",
            "quota": {"instances": 2, "memory": 1073741824u64, "forwards": 1, "port_range": [20000, 20999]}}))
        .await?;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let carol = login(&daemon, "carol", "Counts-Boats-Daily-5").await?;
    // Without a memory limit the quota could be escaped: refused, naming the field.
    let (status, body) = daemon
        .call_as(
            Some(&carol),
            "POST",
            "/api/v1/instances",
            json!({"image": "debian/12"}),
        )
        .await?;
    assert_eq!(
        (status, body["error"]["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("limits.memory")),
        "{body}"
    );
    let mut tasks = Vec::new();
    for i in 0..6 {
        let daemon = daemon.clone();
        let carol = carol.clone();
        tasks.push(tokio::spawn(async move {
            daemon
                .call_as(Some(&carol), "POST", "/api/v1/instances",
                    json!({"name": format!("q{i}"), "image": "debian/12", "limits": {"memory": 268435456u64}}))
                .await
                .map_err(|e| e.to_string())
        }));
    }
    let mut accepted = 0;
    for task in tasks {
        let (status, body) = task.await??;
        match status {
            StatusCode::ACCEPTED => {
                accepted += 1;
                daemon.wait_success(&body).await?;
            }
            StatusCode::FORBIDDEN => assert_eq!(body["error"]["code"], "quota_exceeded", "{body}"),
            other => return Err(format!("unexpected {other}: {body}").into()),
        }
    }
    assert_eq!(accepted, 2);
    let (_, me) = daemon
        .call_as(Some(&carol), "GET", "/api/v1/auth/me", Value::Null)
        .await?;
    assert_eq!(me["usage"]["instances"], 2, "{me}");
    assert_eq!(me["usage"]["memory"], 2 * 268435456u64, "{me}");
    assert_eq!(me["user"]["quota"]["instances"], 2);
    Ok(())
}

#[tokio::test]
async fn secrets_stay_out_of_answers_and_the_audit_log() -> TestResult {
    let daemon = SimDaemon::start(&[]).await?;
    let cast = cast(&daemon).await?;
    let root_pw = "Guest-Root-Pass-88";
    let (status, body) = daemon
        .call_as(
            Some(&cast.alice),
            "POST",
            "/api/v1/instances/a-web/password",
            json!({"password": root_pw}),
        )
        .await?;
    // Written (hashed) into the sim instance's root filesystem, and audited without it.
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, audit) = daemon
        .call_as(
            Some(&cast.admin),
            "GET",
            "/api/v1/audit?limit=1000",
            Value::Null,
        )
        .await?;
    assert_eq!(status, StatusCode::OK);
    let text = audit.to_string();
    for secret in [
        ALICE_PW,
        BOB_PW,
        ADMIN_PASSWORD,
        root_pw,
        cast.alice_reader_secret.as_str(),
    ] {
        assert!(!text.contains(secret), "a secret is in the audit log");
    }
    for action in [
        "auth.login",
        "user.create",
        "instance.create",
        "token.create",
        "instance.password",
    ] {
        assert!(
            audit
                .as_array()
                .ok_or("audit")?
                .iter()
                .any(|e| e["action"] == action),
            "{action} not audited"
        );
    }
    let entry = audit
        .as_array()
        .ok_or("audit")?
        .iter()
        .find(|e| e["action"] == "instance.password")
        .ok_or("entry")?;
    assert_eq!(entry["actor"], "alice");
    assert_eq!(entry["ip"], "127.0.0.1");
    assert_eq!(entry["target"], "a-web");
    // A user reads only their own entries.
    let (_, own) = daemon
        .call_as(Some(&cast.bob), "GET", "/api/v1/audit", Value::Null)
        .await?;
    assert!(
        own.as_array()
            .ok_or("audit")?
            .iter()
            .all(|e| e["actor"].as_str().is_some_and(|a| a.starts_with("bob"))),
        "{own}"
    );
    let (_, users) = daemon
        .call_as(Some(&cast.admin), "GET", "/api/v1/users", Value::Null)
        .await?;
    assert!(
        !users.to_string().contains("argon2"),
        "password hashes are answered"
    );
    Ok(())
}
