//! `GET/PUT /settings` and `GET /system` on the sim backend: a full replace whose validation
//! (every field given, each valid) changes nothing when it fails,
//! defaults applied to a create, admin-only writes, persistence across a restart, and host
//! facts that make sense.

use crate::common;

use axum::http::StatusCode;
use common::{ADMIN_PASSWORD, SimDaemon, TestResult};
use serde_json::{Value, json};

/// `base` with the values at these JSON pointers replaced.
fn with(base: &Value, changes: &[(&str, Value)]) -> Value {
    let mut out = base.clone();
    for (pointer, value) in changes {
        if let Some(slot) = out.pointer_mut(pointer) {
            *slot = value.clone();
        }
    }
    out
}

#[tokio::test]
async fn bad_settings_name_the_field_and_change_nothing() -> TestResult {
    let d = SimDaemon::start(&[]).await?;
    let (status, before) = d.call("GET", "/api/v1/settings", Value::Null).await?;
    assert_eq!(status, StatusCode::OK, "{before}");
    assert_eq!(before["defaults"]["image"], "debian/12");
    assert_eq!(before["metrics"]["interval_seconds"], 10);
    assert_eq!(before["metrics"]["retention"], "proxmox");
    let good = with(
        &before,
        &[
            ("/defaults/image", json!("debian/13")),
            ("/defaults/memory", json!(1073741824)),
            ("/metrics/interval_seconds", json!(30)),
        ],
    );
    let bad = |pointer: &str, value: Value| with(&before, &[(pointer, value)]);
    let mut unknown = before.clone();
    unknown["defaults"]["colour"] = json!("blue");
    let mut partial = before.clone();
    if let Some(defaults) = partial["defaults"].as_object_mut() {
        defaults.remove("cpu");
    }
    let cases = [
        (bad("/defaults/memory", json!(1)), "defaults.memory"),
        (bad("/defaults/cpu", json!(0)), "defaults.cpu"),
        (bad("/defaults/processes", json!(3)), "defaults.processes"),
        (
            bad("/defaults/image", json!("windows/11")),
            "defaults.image",
        ),
        (bad("/defaults/memory", json!("lots")), "defaults.memory"),
        (
            bad("/metrics/interval_seconds", json!(0)),
            "metrics.interval_seconds",
        ),
        (
            bad("/metrics/interval_seconds", json!(7)),
            "metrics.interval_seconds",
        ),
        (
            bad("/metrics/retention", json!("forever")),
            "metrics.retention",
        ),
        (unknown, "defaults.colour"),
        // The sim daemon stores on `dir`, which cannot limit disk.
        (
            bad("/defaults/disk", json!(10737418240u64)),
            "defaults.disk",
        ),
        // A full replace: a field left out is refused (it would silently reset), even `null`
        // ones, and so is an empty body.
        (partial, "defaults.cpu"),
        (json!({"metrics": before["metrics"]}), "defaults"),
        (json!({}), "defaults"),
    ];
    for (body, field) in cases {
        let (status, answer) = d.call("PUT", "/api/v1/settings", body.clone()).await?;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {answer}");
        let named = answer["error"]["field"].as_str().unwrap_or_default();
        assert_eq!(named, field, "{body}: {answer}");
        let (_, now) = d.call("GET", "/api/v1/settings", Value::Null).await?;
        assert_eq!(now, before, "{body} changed something");
    }
    let (status, saved) = d.call("PUT", "/api/v1/settings", good).await?;
    assert_eq!(status, StatusCode::OK, "{saved}");
    assert_eq!(saved["defaults"]["image"], "debian/13");
    assert_eq!(saved["defaults"]["memory"], 1073741824u64);
    assert_eq!(saved["defaults"]["cpu"], Value::Null);
    assert_eq!(saved["metrics"]["interval_seconds"], 30);
    Ok(())
}

#[tokio::test]
async fn defaults_fill_what_a_create_leaves_out() -> TestResult {
    let mut d = SimDaemon::start(&[]).await?;
    let mut watcher = d.app.watch_settings();
    let (status, saved) = d
        .call(
            "PUT",
            "/api/v1/settings",
            json!({"defaults": {"image": "ubuntu/24.04", "cpu": 0.5, "memory": 268435456,
                                "disk": null, "processes": 256, "autostart": true},
                   "metrics": {"interval_seconds": 5, "retention": "proxmox"}}),
        )
        .await?;
    assert_eq!(status, StatusCode::OK, "{saved}");
    // What the metrics collector reads, and the change it is told about.
    assert_eq!(d.app.settings().metrics.interval_seconds, 5);
    assert!(watcher.has_changed()?);
    assert_eq!(watcher.borrow_and_update().defaults.processes, Some(256));

    let (status, body) = d
        .call("POST", "/api/v1/instances", json!({"name": "plain"}))
        .await?;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    d.wait_success(&body).await?;
    let (_, plain) = d
        .call("GET", "/api/v1/instances/plain", Value::Null)
        .await?;
    assert_eq!(plain["image"], "ubuntu/24.04");
    assert_eq!(
        plain["limits"],
        json!({"cpu": 0.5, "memory": 268435456, "processes": 256})
    );
    assert_eq!(plain["autostart"], true);

    // Whatever the request gives wins.
    let (status, body) = d
        .call(
            "POST",
            "/api/v1/instances",
            json!({"name": "given", "image": "debian/12", "limits": {"memory": 536870912},
                   "autostart": false}),
        )
        .await?;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    d.wait_success(&body).await?;
    let (_, given) = d
        .call("GET", "/api/v1/instances/given", Value::Null)
        .await?;
    assert_eq!(given["image"], "debian/12");
    assert_eq!(given["limits"]["memory"], 536870912);
    assert_eq!(given["limits"]["cpu"], 0.5);
    assert_eq!(given["autostart"], false);

    // Kept in the store.
    d.restart().await?;
    let (_, after) = d.call("GET", "/api/v1/settings", Value::Null).await?;
    assert_eq!(after, saved);
    Ok(())
}

#[tokio::test]
async fn anyone_reads_settings_and_only_admins_change_them() -> TestResult {
    let d = SimDaemon::start(&[]).await?;
    let alice = d.user("alice", "Sails-Far-Northward-31").await?;
    let (status, body) = d
        .call_as(Some(&alice), "GET", "/api/v1/settings", Value::Null)
        .await?;
    assert_eq!(status, StatusCode::OK, "{body}");
    let every_second = with(&body, &[("/metrics/interval_seconds", json!(1))]);
    let (status, body) = d
        .call_as(
            Some(&alice),
            "PUT",
            "/api/v1/settings",
            every_second.clone(),
        )
        .await?;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(d.app.settings().metrics.interval_seconds, 10);
    let admin = d.login("admin", ADMIN_PASSWORD).await?;
    let (status, body) = d
        .call_as(Some(&admin), "PUT", "/api/v1/settings", every_second)
        .await?;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(d.app.settings().metrics.interval_seconds, 1);
    Ok(())
}

#[tokio::test]
async fn system_reports_the_host_sanely() -> TestResult {
    let d = SimDaemon::start(&[]).await?;
    let alice = d.user("alice", "Sails-Far-Northward-31").await?;
    let (status, info) = d
        .call_as(Some(&alice), "GET", "/api/v1/system", Value::Null)
        .await?;
    assert_eq!(status, StatusCode::OK, "{info}");
    let memory = info["memory"].as_u64().unwrap_or(0);
    let available = info["memory_available"].as_u64().unwrap_or(0);
    assert!(memory > 0 && available > 0 && available <= memory, "{info}");
    assert!(info["cpus"].as_u64().unwrap_or(0) >= 1, "{info}");
    let model = info["cpu_model"].as_str().unwrap_or_default();
    assert!(!model.is_empty() && model != "unknown", "{info}");
    assert!(info["uptime_seconds"].as_u64().unwrap_or(0) > 0, "{info}");
    assert!(!info["hostname"].as_str().unwrap_or_default().is_empty());
    assert!(!info["kernel"].as_str().unwrap_or_default().is_empty());
    assert_eq!(info["version"], env!("CARGO_PKG_VERSION"));
    let pools = info["storage_pools"].as_array().ok_or("storage_pools")?;
    assert_eq!(pools.len(), 1, "{info}");
    assert_eq!(pools[0]["driver"], "dir");
    assert!(pools[0]["free"].as_u64().is_some_and(|f| f > 0), "{info}");
    let caps = info["capabilities"].as_object().ok_or("capabilities")?;
    for name in ["btrfs", "overlay", "sit", "wireguard", "tun", "nftables"] {
        let cap = &caps[name];
        let available = cap["available"].as_bool().ok_or(name)?;
        // A missing one says why.
        assert!(available || cap["reason"].is_string(), "{name}: {cap}");
    }
    // This host (and CI) has btrfs: the storage tests run on it.
    assert_eq!(caps["btrfs"]["available"], true, "{info}");
    let backends = info["backends"].as_array().ok_or("backends")?;
    assert!(
        backends
            .iter()
            .any(|b| b["name"] == "sim" && b["usable"] == true)
    );
    Ok(())
}
