//! Snapshots through the API on the `sim` backend: names, conflicts, restore of a running
//! instance, delete, and the schedule driven with a test clock (take, expire, cap at max).

use crate::common;

use axum::http::StatusCode;
use chrono::{Duration, Utc};
use common::{SimDaemon, TestResult};
use serde_json::{Value, json};

async fn names(d: &SimDaemon, instance: &str) -> Result<Vec<String>, Box<dyn std::error::Error>> {
    let (_, list) = d
        .call(
            "GET",
            &format!("/api/v1/instances/{instance}/snapshots"),
            Value::Null,
        )
        .await?;
    Ok(list
        .as_array()
        .ok_or("not a list")?
        .iter()
        .filter_map(|s| s["name"].as_str().map(str::to_owned))
        .collect())
}

#[tokio::test]
async fn snapshots_are_taken_restored_and_deleted() -> TestResult {
    let d = SimDaemon::start(&[]).await?;
    d.launch("vm").await?;
    let url = "/api/v1/instances/vm/snapshots";
    let (status, body) = d.call("POST", url, Value::Null).await?;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert_eq!(body["operation"]["kind"], "instance_snapshot");
    d.wait_success(&body).await?;
    let (status, body) = d
        .call("POST", url, json!({"name": "before-upgrade"}))
        .await?;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    d.wait_success(&body).await?;
    let (status, body) = d.call("POST", url, json!({})).await?;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    d.wait_success(&body).await?;
    assert_eq!(names(&d, "vm").await?, ["snap0", "before-upgrade", "snap1"]);

    for (body, status, field) in [
        (json!({"name": "snap0"}), StatusCode::CONFLICT, None),
        (
            json!({"name": "Bad_Name"}),
            StatusCode::BAD_REQUEST,
            Some("name"),
        ),
        (
            json!({"name": "../x"}),
            StatusCode::BAD_REQUEST,
            Some("name"),
        ),
        (json!({"nme": "x"}), StatusCode::BAD_REQUEST, Some("nme")),
    ] {
        let (got, answer) = d.call("POST", url, body.clone()).await?;
        assert_eq!(got, status, "{body}: {answer}");
        if let Some(field) = field {
            assert_eq!(answer["error"]["field"], field, "{answer}");
        }
    }
    let (status, _) = d
        .call("POST", "/api/v1/instances/ghost/snapshots", Value::Null)
        .await?;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let (status, body) = d
        .call(
            "POST",
            &format!("{url}/before-upgrade/restore"),
            Value::Null,
        )
        .await?;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let op = d.wait_success(&body).await?;
    assert_eq!(op["kind"], "instance_restore");
    let (_, vm) = d.call("GET", "/api/v1/instances/vm", Value::Null).await?;
    assert_eq!(
        vm["state"], "running",
        "a running instance runs again after a restore"
    );
    let (status, _) = d
        .call("POST", &format!("{url}/nope/restore"), Value::Null)
        .await?;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let (status, _) = d
        .call("DELETE", &format!("{url}/snap1"), Value::Null)
        .await?;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = d
        .call("DELETE", &format!("{url}/snap1"), Value::Null)
        .await?;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(names(&d, "vm").await?, ["snap0", "before-upgrade"]);
    Ok(())
}

#[tokio::test]
async fn the_schedule_takes_expires_and_caps_snapshots() -> TestResult {
    let d = SimDaemon::start(&[]).await?;
    d.launch("cron").await?;
    let (status, body) = d
        .call(
            "POST",
            "/api/v1/instances/cron/snapshots",
            json!({"name": "manual"}),
        )
        .await?;
    assert_eq!(status, StatusCode::ACCEPTED);
    d.wait_success(&body).await?;

    // Bad schedules: 400 naming the field, nothing changed.
    for (bad, field) in [
        (json!({"schedule": "@sometimes"}), "snapshots.schedule"),
        (json!({"schedule": "61 * * * *"}), "snapshots.schedule"),
        (
            json!({"schedule": "@daily", "expiry": "7 days"}),
            "snapshots.expiry",
        ),
        (json!({"schedule": "@daily", "max": 0}), "snapshots.max"),
    ] {
        let (status, answer) = d
            .call(
                "PATCH",
                "/api/v1/instances/cron",
                json!({"snapshots": bad, "limits": {"cpu": 2}}),
            )
            .await?;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
        assert_eq!(answer["error"]["field"], field, "{answer}");
    }
    let (_, cron) = d.call("GET", "/api/v1/instances/cron", Value::Null).await?;
    assert!(cron.get("snapshots").is_none(), "{cron}");
    assert!(
        cron["limits"]["cpu"].is_null(),
        "a refused patch changes nothing: {cron}"
    );

    let schedule = json!({"schedule": "@hourly", "expiry": "2h", "max": 2});
    let (status, cron) = d
        .call(
            "PATCH",
            "/api/v1/instances/cron",
            json!({"snapshots": schedule}),
        )
        .await?;
    assert_eq!(status, StatusCode::OK, "{cron}");
    assert_eq!(cron["snapshots"], schedule);

    let t0 = Utc::now();
    let run = |minutes: i64| {
        d.app
            .run_snapshot_schedules(t0 + Duration::minutes(minutes))
    };
    assert_eq!(run(61).await, 1, "the first full hour has passed");
    assert_eq!(run(61).await, 0, "not again within the hour");
    assert_eq!(run(121).await, 1);
    assert_eq!(run(181).await, 1);
    let auto: Vec<String> = names(&d, "cron")
        .await?
        .into_iter()
        .filter(|n| n.starts_with("auto-"))
        .collect();
    assert_eq!(auto.len(), 2, "expired and capped at max 2: {auto:?}");
    assert_eq!(run(600).await, 1);
    let all = names(&d, "cron").await?;
    assert_eq!(
        all.len(),
        2,
        "one fresh scheduled snapshot, the manual one kept: {all:?}"
    );
    assert_eq!(all[0], "manual");

    let (status, cron) = d
        .call(
            "PATCH",
            "/api/v1/instances/cron",
            json!({"snapshots": {"schedule": ""}}),
        )
        .await?;
    assert_eq!(status, StatusCode::OK);
    assert!(cron.get("snapshots").is_none(), "{cron}");
    assert_eq!(run(2000).await, 0, "no schedule, no snapshots");
    Ok(())
}

#[tokio::test]
async fn a_backup_schedule_is_validated_shown_and_removed() -> TestResult {
    let d = SimDaemon::start(&[]).await?;
    d.launch("bs").await?;
    let (status, answer) = d
        .call(
            "PATCH",
            "/api/v1/instances/bs",
            json!({"backups": {"schedule": "daily"}}),
        )
        .await?;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    assert_eq!(answer["error"]["field"], "backups.schedule");
    let (status, bs) = d
        .call(
            "PATCH",
            "/api/v1/instances/bs",
            json!({"backups": {"schedule": "@daily"}}),
        )
        .await?;
    assert_eq!(status, StatusCode::OK, "{bs}");
    assert_eq!(bs["backups"]["schedule"], "@daily");
    let (_, bs) = d
        .call(
            "PATCH",
            "/api/v1/instances/bs",
            json!({"backups": {"schedule": ""}}),
        )
        .await?;
    assert!(bs.get("backups").is_none(), "{bs}");
    Ok(())
}
