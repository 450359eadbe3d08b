//! A berthd process on the sim backend is killed (SIGKILL) while each step of each operation
//! runs (failpoint `<kind>.<step>=pause`), then started again: the operation must end as an
//! interrupted failure naming the step, and recovery must leave nothing half-made (a delete
//! is finished instead). The real-container test in lifecycle.rs does the same for creates.

use crate::common;

use std::time::{Duration, Instant};

use common::TestResult;
use common::ops::{self, Api};
use common::process::SimProcess;
use serde_json::Value;

async fn wait_running(d: &SimProcess, id: &str, step: &str) -> Result<(), ops::Error> {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        let (_, op) = d
            .json("GET", &format!("/api/v1/operations/{id}"), Value::Null)
            .await?;
        let running = op["steps"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|s| s["name"] == step && s["status"] == "running");
        if running {
            return Ok(());
        }
        if op["status"] != "running" && op["status"] != "pending" {
            return Err(format!("step {step} never ran: {op}").into());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Err(format!("step {step} did not start").into())
}

#[tokio::test]
async fn kill9_at_every_step_of_every_operation_leaves_nothing_half_made() -> TestResult {
    for (kind, step) in ops::every_step() {
        let point = format!("{}.{step}", kind.as_str());
        let mut d = SimProcess::start(&format!("{point}=pause"))?;
        let archive = ops::prepare(&d, kind).await?;
        let accepted = ops::start(&d, kind, archive).await?;
        let id = ops::operation_id(&accepted)?;
        wait_running(&d, &id, step).await?;
        d.kill9()?;
        d.spawn("")?;
        let (_, op) = d
            .json("GET", &format!("/api/v1/operations/{id}"), Value::Null)
            .await?;
        assert_eq!(op["status"], "failure", "{point}: {op}");
        let error = op["error"].as_str().unwrap_or_default();
        assert!(
            error.contains("interrupted") && error.contains(step),
            "{point}: {op}"
        );
        ops::check_nothing_half_made(&d, kind)
            .await
            .map_err(|e| format!("{point}: {e}\n{}", d.log()))?;
        ops::check_name_free(&d, kind)
            .await
            .map_err(|e| format!("{point}: {e}"))?;
    }
    Ok(())
}
