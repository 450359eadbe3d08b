//! API tests over the `sim` backend: the real router, app, store and operation engine, with
//! guests simulated so every path runs in milliseconds.

use crate::common;

use axum::http::StatusCode;
use common::{SimDaemon, TestResult};
use serde_json::{Value, json};

#[tokio::test]
async fn create_start_stop_suspend_resume_delete() -> TestResult {
    let d = SimDaemon::start(&[]).await?;
    let (status, body) = d.call("POST", "/api/v1/instances", json!({"name": "web1", "image": "debian/12", "limits": {"cpu": 1.5, "memory": 536870912}})).await?;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert_eq!(body["operation"]["kind"], "instance_create");
    let op = d.wait_success(&body).await?;
    assert_eq!(op["progress"], 100);
    let (_, web1) = d.call("GET", "/api/v1/instances/web1", Value::Null).await?;
    assert_eq!(web1["state"], "running");
    assert_eq!(web1["limits"]["cpu"], 1.5);
    assert_eq!(web1["backend"], "sim");

    for (verb, state) in [
        ("stop", "stopped"),
        ("start", "running"),
        ("suspend", "suspended"),
        ("resume", "running"),
        ("restart", "running"),
    ] {
        let (status, body) = d
            .call(
                "POST",
                &format!("/api/v1/instances/web1/{verb}"),
                Value::Null,
            )
            .await?;
        assert_eq!(status, StatusCode::ACCEPTED, "{verb}: {body}");
        d.wait_success(&body).await?;
        let (_, web1) = d.call("GET", "/api/v1/instances/web1", Value::Null).await?;
        assert_eq!(web1["state"], state, "after {verb}");
    }

    let (status, body) = d
        .call("POST", "/api/v1/instances/web1/resume", Value::Null)
        .await?;
    assert_eq!(
        status,
        StatusCode::CONFLICT,
        "resume of a running instance: {body}"
    );

    let (status, body) = d
        .call("DELETE", "/api/v1/instances/web1", Value::Null)
        .await?;
    assert_eq!(
        status,
        StatusCode::CONFLICT,
        "delete of a running instance needs force: {body}"
    );
    let (status, body) = d
        .call("DELETE", "/api/v1/instances/web1", json!({"force": true}))
        .await?;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    d.wait_success(&body).await?;
    let (status, _) = d.call("GET", "/api/v1/instances/web1", Value::Null).await?;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(!d.data_dir().join("instances/web1").exists());
    Ok(())
}

#[tokio::test]
async fn bad_input_names_the_field_and_changes_nothing() -> TestResult {
    let d = SimDaemon::start(&[]).await?;
    let cases = [
        (json!({"name": "-abc", "image": "debian/12"}), "name"),
        (json!({"name": "abc-", "image": "debian/12"}), "name"),
        (json!({"name": "1234", "image": "debian/12"}), "name"),
        (json!({"name": "foo.bar", "image": "debian/12"}), "name"),
        (json!({"name": "a_b_c", "image": "debian/12"}), "name"),
        (
            json!({"name": "a".repeat(64), "image": "debian/12"}),
            "name",
        ),
        (json!({"name": "../x", "image": "debian/12"}), "name"),
        (
            json!({"name": "ok1", "image": "debian/12", "limits": {"memory": 0}}),
            "limits.memory",
        ),
        (
            json!({"name": "ok1", "image": "debian/12", "limits": {"cpu": -1}}),
            "limits.cpu",
        ),
        (json!({"name": "ok1", "image": "fedora/40"}), "image"),
        (
            json!({"name": "ok1", "image": "debian/12", "backend": "vmware"}),
            "backend",
        ),
        (
            json!({"name": "ok1", "image": "debian/12", "limits": {"memory": "lots"}}),
            "limits.memory",
        ),
        (
            json!({"name": "ok1", "image": "debian/12", "colour": "red"}),
            "colour",
        ),
    ];
    for (body, field) in cases {
        let (status, answer) = d.call("POST", "/api/v1/instances", body.clone()).await?;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body} -> {answer}");
        assert_eq!(answer["error"]["code"], "invalid", "{answer}");
        assert_eq!(answer["error"]["field"], field, "{body} -> {answer}");
        assert!(
            answer["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty())
        );
    }
    let (_, list) = d.call("GET", "/api/v1/instances", Value::Null).await?;
    assert_eq!(list, json!([]), "bad input created nothing");
    let (_, ops) = d.call("GET", "/api/v1/operations", Value::Null).await?;
    assert_eq!(ops, json!([]), "bad input started no operation");
    Ok(())
}

#[tokio::test]
async fn duplicate_names_conflict() -> TestResult {
    let d = SimDaemon::start(&[]).await?;
    let (_, body) = d
        .call(
            "POST",
            "/api/v1/instances",
            json!({"name": "dup", "image": "debian/12"}),
        )
        .await?;
    d.wait_success(&body).await?;
    let (status, answer) = d
        .call(
            "POST",
            "/api/v1/instances",
            json!({"name": "dup", "image": "debian:bookworm"}),
        )
        .await?;
    assert_eq!(status, StatusCode::CONFLICT, "{answer}");
    assert!(
        answer["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("dup"))
    );
    Ok(())
}

#[tokio::test]
async fn generated_names_and_exec() -> TestResult {
    let d = SimDaemon::start(&[]).await?;
    let (_, body) = d
        .call(
            "POST",
            "/api/v1/instances",
            json!({"image": "ubuntu:22.04"}),
        )
        .await?;
    let name = body["operation"]["target"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(name.split('-').count() == 3, "generated name {name}");
    d.wait_success(&body).await?;
    let (status, out) = d
        .call(
            "POST",
            &format!("/api/v1/instances/{name}/exec"),
            json!({"command": ["echo", "hi"]}),
        )
        .await?;
    assert_eq!(status, StatusCode::OK, "{out}");
    assert_eq!(out["stdout"], "hi\n");
    assert_eq!(out["exit_code"], 0);
    let (status, out) = d
        .call(
            "POST",
            &format!("/api/v1/instances/{name}/exec"),
            json!({"command": []}),
        )
        .await?;
    assert_eq!(
        (status, out["error"]["field"].clone()),
        (StatusCode::BAD_REQUEST, json!("command"))
    );
    let (status, _) = d
        .call(
            "POST",
            "/api/v1/instances/nope/exec",
            json!({"command": ["true"]}),
        )
        .await?;
    assert_eq!(status, StatusCode::NOT_FOUND);
    Ok(())
}

#[tokio::test]
async fn patch_changes_limits_and_autostart() -> TestResult {
    let d = SimDaemon::start(&[]).await?;
    let (_, body) = d
        .call(
            "POST",
            "/api/v1/instances",
            json!({"name": "p1", "image": "debian/12", "limits": {"cpu": 1}}),
        )
        .await?;
    d.wait_success(&body).await?;
    let (status, p1) = d
        .call(
            "PATCH",
            "/api/v1/instances/p1",
            json!({"limits": {"memory": 1073741824}, "autostart": true}),
        )
        .await?;
    assert_eq!(status, StatusCode::OK, "{p1}");
    assert_eq!(p1["limits"], json!({"cpu": 1.0, "memory": 1073741824}));
    assert_eq!(p1["autostart"], true);
    let (status, err) = d
        .call(
            "PATCH",
            "/api/v1/instances/p1",
            json!({"limits": {"processes": 1}}),
        )
        .await?;
    assert_eq!(
        (status, err["error"]["field"].clone()),
        (StatusCode::BAD_REQUEST, json!("limits.processes"))
    );
    let (_, p1) = d.call("GET", "/api/v1/instances/p1", Value::Null).await?;
    assert_eq!(
        p1["limits"]["processes"],
        Value::Null,
        "a refused patch changed nothing"
    );
    Ok(())
}

#[tokio::test]
async fn operations_are_listed_waited_and_unknown_ones_are_404() -> TestResult {
    let d = SimDaemon::start(&[]).await?;
    let (_, body) = d
        .call(
            "POST",
            "/api/v1/instances",
            json!({"name": "o1", "image": "debian/12"}),
        )
        .await?;
    let id = body["operation"]["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let (status, op) = d
        .call(
            "GET",
            &format!("/api/v1/operations/{id}/wait?timeout=10"),
            Value::Null,
        )
        .await?;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(op["status"], "success");
    let steps: Vec<&str> = op["steps"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s["status"].as_str())
        .collect();
    // Every step runs on the sim tier: its image is the test support's stand-in, cloned on
    // the dir driver and configured for real.
    assert_eq!(steps, ["done", "done", "done", "done", "done"], "{op}");
    let (_, list) = d.call("GET", "/api/v1/operations", Value::Null).await?;
    assert_eq!(list.as_array().map(Vec::len), Some(1));
    for bad in ["nope", "00000000-0000-0000-0000-000000000000"] {
        let (status, _) = d
            .call("GET", &format!("/api/v1/operations/{bad}"), Value::Null)
            .await?;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }
    let (status, _) = d
        .call("DELETE", &format!("/api/v1/operations/{id}"), Value::Null)
        .await?;
    assert_eq!(
        status,
        StatusCode::CONFLICT,
        "an ended operation cannot be cancelled"
    );
    Ok(())
}

#[tokio::test]
async fn unknown_paths_and_images_answer_in_the_error_format() -> TestResult {
    let d = SimDaemon::start(&[]).await?;
    let (status, body) = d.call("GET", "/api/v1/nothing", Value::Null).await?;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (StatusCode::NOT_FOUND, json!("not_found"))
    );
    let (status, body) = d
        .call("POST", "/api/v1/images", json!({"image": "arch/rolling"}))
        .await?;
    assert_eq!(
        (status, body["error"]["field"].clone()),
        (StatusCode::BAD_REQUEST, json!("image"))
    );
    let (status, _) = d
        .call("DELETE", "/api/v1/images/debian/12", Value::Null)
        .await?;
    assert_eq!(
        status,
        StatusCode::NO_CONTENT,
        "the test support's stand-in"
    );
    let (status, _) = d
        .call("DELETE", "/api/v1/images/debian/12", Value::Null)
        .await?;
    assert_eq!(status, StatusCode::NOT_FOUND, "not built any more");
    let (status, images) = d.call("GET", "/api/v1/images", Value::Null).await?;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        images.as_array().map(Vec::len),
        Some(berth_types::ImageRef::all().count()),
        "the catalogue: debian 11, 12, 13, testing, sid and ubuntu 20.04, 22.04, 24.04"
    );
    let (status, system) = d.call("GET", "/api/v1/system", Value::Null).await?;
    assert_eq!(status, StatusCode::OK, "{system}");
    assert!(
        system["backends"]
            .as_array()
            .is_some_and(|b| b.iter().any(|b| b["name"] == "sim" && b["usable"] == true))
    );
    Ok(())
}

#[tokio::test]
async fn autostart_instances_start_after_a_host_boot_and_others_stay_stopped() -> TestResult {
    let mut d = SimDaemon::start(&[]).await?;
    for (name, autostart) in [("auto1", true), ("manual1", false)] {
        let (_, body) = d
            .call(
                "POST",
                "/api/v1/instances",
                json!({"name": name, "image": "debian/12", "autostart": autostart}),
            )
            .await?;
        d.wait_success(&body).await?;
    }
    // A daemon restart without a host boot: the boot marker is there, nothing is started, and
    // the sim guests (gone with the old daemon) are seen as stopped.
    d.restart().await?;
    for name in ["auto1", "manual1"] {
        let (_, instance) = d
            .call("GET", &format!("/api/v1/instances/{name}"), Value::Null)
            .await?;
        assert_eq!(
            instance["state"], "stopped",
            "{name} after a daemon restart"
        );
    }
    // A host boot clears /run: the marker is gone, autostart instances start.
    std::fs::remove_file(d.runtime_dir().join("booted"))?;
    d.restart().await?;
    let (_, ops) = d.call("GET", "/api/v1/operations", Value::Null).await?;
    let start = ops
        .as_array()
        .and_then(|ops| ops.iter().find(|o| o["kind"] == "instance_start").cloned())
        .ok_or("no start operation")?;
    d.wait_success(&json!({"operation": start})).await?;
    let (_, auto1) = d
        .call("GET", "/api/v1/instances/auto1", Value::Null)
        .await?;
    assert_eq!(auto1["state"], "running");
    let (_, manual1) = d
        .call("GET", "/api/v1/instances/manual1", Value::Null)
        .await?;
    assert_eq!(manual1["state"], "stopped");
    Ok(())
}

#[tokio::test]
async fn root_credentials_are_validated_and_never_stored_in_clear() -> TestResult {
    let d = SimDaemon::start(&[]).await?;
    let key =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGbl8f6yP2N1PRxGx2D9rG3m0Yb3dO8bS4w3E6iSx0rN t@h";
    for (body, field) in [
        (
            json!({"name": "c1", "image": "debian/12", "password": "short"}),
            "password",
        ),
        (
            json!({"name": "c1", "image": "debian/12", "password": "Long-enough-1", "generate_password": true}),
            "password",
        ),
        (
            json!({"name": "c1", "image": "debian/12", "ssh_keys": ["ssh-ed25519 !!!"]}),
            "ssh_keys[0]",
        ),
        (
            json!({"name": "c1", "image": "debian/12", "ssh_keys": [key, "rsa-nonsense"]}),
            "ssh_keys[1]",
        ),
    ] {
        let (status, answer) = d.call("POST", "/api/v1/instances", body.clone()).await?;
        assert_eq!(
            (status, answer["error"]["field"].clone()),
            (StatusCode::BAD_REQUEST, json!(field)),
            "{body}"
        );
        assert!(
            !answer.to_string().contains("Long-enough-1"),
            "the error echoes the password"
        );
    }
    let secret = "Kept-out-of-the-db-42";
    let (status, body) = d
        .call(
            "POST",
            "/api/v1/instances",
            json!({"name": "c1", "image": "debian/12", "password": secret, "ssh_keys": [key]}),
        )
        .await?;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert_eq!(body.get("password"), None, "a given password is not echoed");
    d.wait_success(&body).await?;
    let (_, body) = d
        .call(
            "POST",
            "/api/v1/instances",
            json!({"name": "c2", "image": "debian/12", "generate_password": true}),
        )
        .await?;
    let generated = body["password"]
        .as_str()
        .ok_or("no generated password")?
        .to_owned();
    assert_eq!(generated.len(), 20);
    d.wait_success(&body).await?;
    for file in ["berth.db", "berth.db-wal"] {
        let bytes = std::fs::read(d.data_dir().join(file)).unwrap_or_default();
        let text = String::from_utf8_lossy(&bytes);
        assert!(
            !text.contains(secret) && !text.contains(&generated),
            "{file} holds a password in clear"
        );
    }
    let (status, answer) = d
        .call(
            "POST",
            "/api/v1/instances/c1/password",
            json!({"password": "x"}),
        )
        .await?;
    assert_eq!(
        (status, answer["error"]["field"].clone()),
        (StatusCode::BAD_REQUEST, json!("password"))
    );
    let (status, _) = d
        .call(
            "POST",
            "/api/v1/instances/nope/password",
            json!({"generate": true}),
        )
        .await?;
    assert_eq!(status, StatusCode::NOT_FOUND);
    Ok(())
}
