//! Every step of every operation fails once (failpoint `<kind>.<step>=error`) on the sim tier,
//! where every step does its real work on local storage; the operation must fail naming the
//! step, mark what ran before as done or undone, and leave nothing half-made.

use crate::common;

use berth_types::OperationKind;
use common::{SimDaemon, TestResult, ops};

/// Each step before the failed one is done, skipped or undone; the failed one failed; none
/// after it ran.
fn check_steps(op: &serde_json::Value, failed: &str) -> Result<(), String> {
    let steps = op["steps"].as_array().ok_or("no steps")?;
    let at = steps
        .iter()
        .position(|s| s["name"] == failed)
        .ok_or("the failed step is not listed")?;
    for (i, step) in steps.iter().enumerate() {
        let status = step["status"].as_str().unwrap_or_default();
        let fine = match i.cmp(&at) {
            std::cmp::Ordering::Less => ["done", "skipped", "undone"].contains(&status),
            std::cmp::Ordering::Equal => status == "failed",
            std::cmp::Ordering::Greater => ["pending", "skipped"].contains(&status),
        };
        if !fine {
            return Err(format!("step {} is {status}: {op}", step["name"]));
        }
    }
    Ok(())
}

#[tokio::test]
async fn a_failure_at_every_step_of_every_operation_leaves_nothing_half_made() -> TestResult {
    let every = ops::every_step();
    assert!(every.len() >= 20, "{every:?}");
    for (kind, step) in every {
        let point = format!("{}.{step}", kind.as_str());
        let mut d = SimDaemon::start(&[(point.clone(), "error")]).await?;
        let archive = ops::prepare(&d, kind).await?;
        let accepted = ops::start(&d, kind, archive).await?;
        let op = ops::finished(&d, &accepted).await?;
        assert_eq!(op["status"], "failure", "{point}: {op}");
        let error = op["error"].as_str().unwrap_or_default();
        assert!(error.contains(&format!("failpoint {point}")), "{op}");
        check_steps(&op, step).map_err(|e| format!("{point}: {e}"))?;
        if kind == OperationKind::InstanceDelete {
            // A deletion has no undo: it rolls forward, so the next one finishes it.
            d.restart().await?;
            let (_, again) = d
                .call(
                    "DELETE",
                    &format!("/api/v1/instances/{}", ops::INSTANCE),
                    serde_json::json!({"force": true}),
                )
                .await?;
            d.wait_success(&again).await?;
        }
        ops::check_nothing_half_made(&d, kind)
            .await
            .map_err(|e| format!("{point}: {e}"))?;
    }
    Ok(())
}
