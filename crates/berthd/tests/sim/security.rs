//! The `privileged` and `nesting` flags on the sim backend: guests are unprivileged by default
//! with a range from create on, kept across restarts, snapshots and restores; only an admin
//! makes a guest privileged (through the API and calling the app directly); the flags change
//! only on a stopped instance; converting back allocates a range again.

use crate::common;

use berth_types::InstanceName;
use berth_types::api::{CreateInstanceRequest, PatchInstanceRequest};
use berthd::app::AppError;
use common::{SimDaemon, TestResult};
use serde_json::{Value, json};

const URL: &str = "/api/v1/instances";

async fn get(d: &SimDaemon, name: &str) -> Result<Value, Box<dyn std::error::Error>> {
    let (status, body) = d.call("GET", &format!("{URL}/{name}"), Value::Null).await?;
    assert_eq!(status, 200, "{body}");
    Ok(body)
}

async fn power(d: &SimDaemon, name: &str, action: &str) -> TestResult {
    let (status, body) = d
        .call("POST", &format!("{URL}/{name}/{action}"), json!({}))
        .await?;
    assert_eq!(status, 202, "{body}");
    d.wait_success(&body).await?;
    Ok(())
}

#[tokio::test]
async fn guests_are_unprivileged_by_default_and_keep_their_range() -> TestResult {
    let mut d = SimDaemon::start(&[]).await?;
    let (status, body) = d
        .call(
            "POST",
            URL,
            json!({"name": "u1", "image": "debian/12", "start": false}),
        )
        .await?;
    assert_eq!(status, 202, "{body}");
    d.wait_success(&body).await?;
    let made = get(&d, "u1").await?;
    assert_eq!(made["privileged"], false, "{made}");
    assert_eq!(made["nesting"], false, "{made}");
    assert_eq!(
        made["idmap"]["size"], 65536,
        "a range from create on: {made}"
    );
    let start = made["idmap"]["host_start"].clone();
    assert!(start.as_u64().is_some_and(|s| s >= 0x7000_0000), "{made}");

    power(&d, "u1", "start").await?;
    let (status, body) = d
        .call(
            "POST",
            &format!("{URL}/u1/snapshots"),
            json!({"name": "s1"}),
        )
        .await?;
    assert_eq!(status, 202, "{body}");
    d.wait_success(&body).await?;
    let (status, body) = d
        .call("POST", &format!("{URL}/u1/snapshots/s1/restore"), json!({}))
        .await?;
    assert_eq!(status, 202, "{body}");
    d.wait_success(&body).await?;
    power(&d, "u1", "restart").await?;
    d.restart().await?;
    assert_eq!(
        get(&d, "u1").await?["idmap"]["host_start"],
        start,
        "kept across start, snapshot, restore, restart and a daemon restart"
    );

    // Nesting is the owner's choice, asked at create.
    let (status, body) = d
        .call(
            "POST",
            URL,
            json!({"name": "n1", "image": "debian/12", "nesting": true}),
        )
        .await?;
    assert_eq!(status, 202, "{body}");
    d.wait_success(&body).await?;
    let nested = get(&d, "n1").await?;
    assert_eq!(nested["nesting"], true, "{nested}");
    assert_ne!(nested["idmap"]["host_start"], start, "never shared");
    Ok(())
}

#[tokio::test]
async fn only_an_admin_makes_a_guest_privileged() -> TestResult {
    let d = SimDaemon::start(&[]).await?;
    let token = d.user("tenant", "Keeps-Own-Root-42").await?;
    let (status, body) = d
        .call_as(
            Some(&token),
            "POST",
            URL,
            json!({"name": "t1", "image": "debian/12", "privileged": true}),
        )
        .await?;
    assert_eq!(status, 403, "{body}");
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(message.starts_with("privileged:"), "{body}");
    let (status, _) = d.call("GET", &format!("{URL}/t1"), Value::Null).await?;
    assert_eq!(status, 404, "a refused create makes nothing");

    let (status, body) = d
        .call_as(
            Some(&token),
            "POST",
            URL,
            json!({"name": "t1", "image": "debian/12", "start": false}),
        )
        .await?;
    assert_eq!(status, 202, "{body}");
    d.wait_success(&body).await?;
    let (status, body) = d
        .call_as(
            Some(&token),
            "PATCH",
            &format!("{URL}/t1"),
            json!({"privileged": true}),
        )
        .await?;
    assert_eq!(status, 403, "{body}");
    assert_eq!(get(&d, "t1").await?["privileged"], false);

    // The app refuses by itself, without the HTTP guard in front.
    let tenant = d.app.authenticate(&token).map_err(|e| e.to_string())?;
    let create = CreateInstanceRequest {
        name: Some("t2".into()),
        image: Some("debian/12".into()),
        privileged: Some(true),
        ..Default::default()
    };
    let refused = d.app.create_instance(&tenant, create).await;
    assert!(
        matches!(refused, Err(AppError::Forbidden(_))),
        "{refused:?}"
    );
    let patch = PatchInstanceRequest {
        privileged: Some(true),
        ..Default::default()
    };
    let refused = d.app.patch_instance(&tenant, "t1", patch).await;
    assert!(
        matches!(refused, Err(AppError::Forbidden(_))),
        "{refused:?}"
    );

    // An admin may; the tenant then cannot touch the privileged guest's flags either.
    let (status, body) = d
        .call("PATCH", &format!("{URL}/t1"), json!({"privileged": true}))
        .await?;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["privileged"], true, "{body}");
    assert!(
        body.get("idmap").is_none(),
        "a privileged guest holds no range: {body}"
    );
    let (status, body) = d
        .call_as(
            Some(&token),
            "PATCH",
            &format!("{URL}/t1"),
            json!({"nesting": true}),
        )
        .await?;
    assert_eq!(status, 403, "{body}");
    Ok(())
}

#[tokio::test]
async fn flags_change_only_when_stopped_and_conversion_allocates_a_range() -> TestResult {
    let d = SimDaemon::start(&[]).await?;
    let (status, body) = d
        .call(
            "POST",
            URL,
            json!({"name": "p1", "image": "debian/12", "privileged": true}),
        )
        .await?;
    assert_eq!(status, 202, "{body}");
    d.wait_success(&body).await?;
    let name = InstanceName::parse("p1")?;
    assert_eq!(d.app.idmap_of(&name)?, None, "privileged: no range");

    for patch in [json!({"privileged": false}), json!({"nesting": true})] {
        let (status, body) = d.call("PATCH", &format!("{URL}/p1"), patch).await?;
        assert_eq!(status, 409, "{body}");
        let message = body["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains("stop it first"), "{body}");
    }
    let unchanged = get(&d, "p1").await?;
    assert_eq!(
        (&unchanged["privileged"], &unchanged["nesting"]),
        (&json!(true), &json!(false))
    );

    power(&d, "p1", "stop").await?;
    let (status, body) = d
        .call(
            "PATCH",
            &format!("{URL}/p1"),
            json!({"privileged": false, "nesting": true}),
        )
        .await?;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["privileged"], false, "{body}");
    assert_eq!(body["nesting"], true, "{body}");
    let range = d.app.idmap_of(&name)?.ok_or("converted without a range")?;
    assert_eq!(body["idmap"]["host_start"], range.start());
    power(&d, "p1", "start").await?;
    assert_eq!(
        d.app.idmap_of(&name)?,
        Some(range),
        "the same range at start"
    );
    // Setting a flag to what it is changes nothing, in any state.
    let (status, body) = d
        .call("PATCH", &format!("{URL}/p1"), json!({"privileged": false}))
        .await?;
    assert_eq!(status, 200, "{body}");
    Ok(())
}

#[tokio::test]
async fn a_full_pool_fails_the_create_naming_the_key_and_leaves_nothing() -> TestResult {
    let one_guest = [("BERTH_SECURITY__IDMAP_SIZE", "65536")];
    let d = SimDaemon::start_with_env(&[], &one_guest).await?;
    d.launch("first").await?;
    let (status, body) = d
        .call("POST", URL, json!({"name": "second", "image": "debian/12"}))
        .await?;
    assert_eq!(status, 202, "{body}");
    let op = d.wait(&body).await?;
    assert_eq!(op["status"], "failure", "{op}");
    let error = op["error"].as_str().unwrap_or_default();
    assert!(error.contains("security.idmap_size"), "{op}");
    let (status, _) = d.call("GET", &format!("{URL}/second"), Value::Null).await?;
    assert_eq!(status, 404, "the failed create is undone");
    // A privileged guest needs no range.
    let (status, body) = d
        .call(
            "POST",
            URL,
            json!({"name": "second", "image": "debian/12", "privileged": true}),
        )
        .await?;
    assert_eq!(status, 202, "{body}");
    d.wait_success(&body).await?;
    Ok(())
}
