//! Purging history: `POST /operations/purge` and `POST /audit/purge` delete what is older than
//! `before`, keep what is newer and every pending or running operation, answer how many went,
//! are audited themselves (the entry outlives the purge), and are for admins only.

use crate::common;

use axum::http::StatusCode;
use berth_store::OperationRecord;
use berth_types::{Operation, OperationKind, OperationStatus};
use chrono::{DateTime, TimeZone, Utc};
use common::{SimDaemon, TestResult};
use serde_json::{Value, json};

fn old_operation(status: OperationStatus, at: DateTime<Utc>) -> OperationRecord {
    OperationRecord {
        operation: Operation {
            id: uuid::Uuid::new_v4(),
            kind: OperationKind::InstanceCreate,
            target: "old-web".into(),
            status,
            progress: 50,
            message: "old".into(),
            steps: vec![],
            error: None,
            cancellable: false,
            owner: "admin".into(),
            created_at: at,
            updated_at: at,
        },
        params: json!({}),
    }
}

async fn operation_status(
    d: &SimDaemon,
    id: uuid::Uuid,
) -> Result<StatusCode, Box<dyn std::error::Error>> {
    let (status, _) = d
        .call("GET", &format!("/api/v1/operations/{id}"), Value::Null)
        .await?;
    Ok(status)
}

#[tokio::test]
async fn purging_operations_removes_old_ended_ones_only() -> TestResult {
    let d = SimDaemon::start(&[]).await?;
    let long_ago = Utc
        .with_ymd_and_hms(2020, 1, 1, 0, 0, 0)
        .single()
        .ok_or("date")?;
    let ended = old_operation(OperationStatus::Success, long_ago);
    let failed = old_operation(OperationStatus::Failure, long_ago);
    let running = old_operation(OperationStatus::Running, long_ago);
    for record in [&ended, &failed, &running] {
        d.app.store.save_operation(record)?;
    }
    d.launch("purge-new").await?; // a newer operation, ended
    let (status, list) = d.call("GET", "/api/v1/operations", Value::Null).await?;
    assert_eq!(status, StatusCode::OK);
    let before_count = list.as_array().map(Vec::len).unwrap_or(0);

    let (status, body) = d
        .call(
            "POST",
            "/api/v1/operations/purge",
            json!({"before": "2021-01-01T00:00:00Z"}),
        )
        .await?;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["removed"], 2, "{body}");
    assert_eq!(body["before"], "2021-01-01T00:00:00Z", "{body}");
    for gone in [&ended, &failed] {
        assert_eq!(
            operation_status(&d, gone.operation.id).await?,
            StatusCode::NOT_FOUND
        );
    }
    // The running one stays however old, and so does the newer one.
    assert_eq!(
        operation_status(&d, running.operation.id).await?,
        StatusCode::OK
    );
    let (_, list) = d.call("GET", "/api/v1/operations", Value::Null).await?;
    assert_eq!(
        list.as_array().map(Vec::len),
        Some(before_count - 2),
        "{list}"
    );
    assert!(list.to_string().contains("purge-new"), "{list}");

    // Even a cut-off in the future leaves the running one.
    let future = (Utc::now() + chrono::Duration::hours(1)).to_rfc3339();
    let (status, body) = d
        .call(
            "POST",
            "/api/v1/operations/purge",
            json!({"before": future}),
        )
        .await?;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body["removed"].as_u64().is_some_and(|n| n >= 1), "{body}");
    let (_, list) = d.call("GET", "/api/v1/operations", Value::Null).await?;
    let ids: Vec<&str> = list
        .as_array()
        .ok_or("list")?
        .iter()
        .filter_map(|o| o["id"].as_str())
        .collect();
    assert_eq!(ids, vec![running.operation.id.to_string()], "{list}");

    // The purges are in the audit log.
    let (_, audit) = d
        .call("GET", "/api/v1/audit?limit=1000", Value::Null)
        .await?;
    let purges = audit
        .as_array()
        .ok_or("audit")?
        .iter()
        .filter(|e| e["action"] == "operation.purge" && e["result"] == "success")
        .count();
    assert_eq!(purges, 2, "{audit}");
    Ok(())
}

#[tokio::test]
async fn purging_the_audit_log_keeps_newer_entries_and_its_own() -> TestResult {
    let d = SimDaemon::start(&[]).await?;
    d.launch("audit-old").await?;
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let cut = Utc::now();
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    d.launch("audit-new").await?;
    let (_, all) = d
        .call("GET", "/api/v1/audit?limit=1000", Value::Null)
        .await?;
    let all = all.as_array().cloned().ok_or("audit")?;
    let older = all
        .iter()
        .filter(|e| {
            e["at"]
                .as_str()
                .and_then(|at| DateTime::parse_from_rfc3339(at).ok())
                .is_some_and(|at| at < cut)
        })
        .count();
    assert!(older > 0, "{all:?}");

    let (status, body) = d
        .call(
            "POST",
            "/api/v1/audit/purge",
            json!({"before": cut.to_rfc3339()}),
        )
        .await?;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["removed"].as_u64(), Some(older as u64), "{body}");
    let (_, left) = d
        .call("GET", "/api/v1/audit?limit=1000", Value::Null)
        .await?;
    let text = left.to_string();
    assert!(!text.contains("audit-old"), "{left}");
    assert!(text.contains("audit-new"), "{left}");

    // Everything up to a moment from now: only the purge's own entry is left.
    let future = (Utc::now() + chrono::Duration::hours(1)).to_rfc3339();
    let (status, body) = d
        .call("POST", "/api/v1/audit/purge", json!({"before": future}))
        .await?;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, left) = d
        .call("GET", "/api/v1/audit?limit=1000", Value::Null)
        .await?;
    let left = left.as_array().cloned().ok_or("audit")?;
    assert_eq!(left.len(), 1, "{left:?}");
    assert_eq!(left[0]["action"], "audit.purge");
    assert_eq!(left[0]["result"], "success");
    assert_eq!(left[0]["params"]["before"], future.as_str());
    Ok(())
}

#[tokio::test]
async fn purges_are_for_admins_and_name_a_bad_before() -> TestResult {
    let d = SimDaemon::start(&[]).await?;
    let alice = d.user("alice-purge", "Sails-Far-Northward-31").await?;
    for path in ["/api/v1/operations/purge", "/api/v1/audit/purge"] {
        let (status, body) = d
            .call_as(
                Some(&alice),
                "POST",
                path,
                json!({"before": "2030-01-01T00:00:00Z"}),
            )
            .await?;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}: {body}");
        for bad in [
            json!({"before": "yesterday"}),
            json!({"before": "2026-11-01"}),
            json!({}),
            Value::Null,
            json!({"before": 12}),
        ] {
            let (status, body) = d.call("POST", path, bad.clone()).await?;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{path} {bad}: {body}");
            assert_eq!(body["error"]["field"], "before", "{path} {bad}: {body}");
        }
    }
    // Nothing was removed by the refusals.
    let (_, audit) = d
        .call("GET", "/api/v1/audit?limit=1000", Value::Null)
        .await?;
    assert!(audit.as_array().is_some_and(|a| !a.is_empty()), "{audit}");
    Ok(())
}
