//! What a (re)starting berthd does before serving: fail and unwind the operations the last run
//! left unfinished, adopt guests that kept running, and start `autostart` instances after a
//! host boot.

use std::sync::Arc;

use berth_runtime::Runtime;
use berth_store::OperationRecord;
use berth_types::api::PowerRequest;
use berth_types::{InstanceName, InstanceState, OperationKind, OperationStatus, StepStatus};
use chrono::Utc;

use super::error::error_chain;
use super::operation::{OpParams, mark_undone};
use super::{App, AppError};

/// Created in the runtime dir (a tmpfs) once per host boot.
const BOOT_MARKER: &str = "booted";
/// Ended operations are kept this long, then pruned at start-up.
const OPERATION_RETENTION_DAYS: i64 = 30;

impl App {
    pub(crate) async fn recover(self: &Arc<Self>) -> Result<(), AppError> {
        if let Err(e) = self.images_remove_partial() {
            tracing::warn!(error = %e, "cannot remove partial image builds");
        }
        for record in self.store.unfinished_operations()? {
            self.recover_operation(record).await?;
        }
        let pruned = self
            .store
            .prune_operations(Utc::now() - chrono::Duration::days(OPERATION_RETENTION_DAYS))?;
        if pruned > 0 {
            tracing::info!(
                pruned,
                "pruned operations older than {OPERATION_RETENTION_DAYS} days"
            );
        }
        for record in self.store.list_instances()? {
            if record.state == InstanceState::Creating {
                tracing::warn!(instance = %record.name, "removing an instance left half-created");
                let _ = self
                    .run_delete(
                        &record,
                        InstanceState::Error,
                        &PowerRequest {
                            force: true,
                            timeout: None,
                        },
                    )
                    .await;
                continue;
            }
            if record.state == InstanceState::Suspended
                && let Ok(runtime) = self.runtime(&record.backend)
            {
                runtime.recall_frozen(&record.name);
            }
            let seen = self.observed_state(&record).await;
            tracing::info!(instance = %record.name, state = seen.as_str(), "found");
        }
        self.restore_network().await;
        let marker = self.config.runtime_dir.join(BOOT_MARKER);
        if !marker.exists() {
            self.autostart().await;
            std::fs::write(&marker, Utc::now().to_rfc3339())
                .map_err(|e| AppError::internal(&format!("writing {}", marker.display()), e))?;
        }
        Ok(())
    }

    /// Marks an interrupted operation failed and undoes what it half-made. A delete is rolled
    /// forward instead: the user asked for the instance to go.
    async fn recover_operation(&self, mut record: OperationRecord) -> Result<(), AppError> {
        let op = &mut record.operation;
        let step = op
            .steps
            .iter()
            .find(|s| s.status == StepStatus::Running)
            .map(|s| s.name.clone())
            .unwrap_or_else(|| "queued".into());
        tracing::warn!(operation = %op.id, kind = op.kind.as_str(), target = %op.target, %step, "recovering interrupted operation");
        let params = OpParams::read(&record.params, &op.steps);
        let mut notes = Vec::new();
        if op.kind == OperationKind::InstanceDelete {
            if let Ok(name) = InstanceName::parse(&op.target)
                && let Some(instance) = self.store.get_instance(&name)?
            {
                {
                    let force = PowerRequest {
                        force: true,
                        timeout: None,
                    };
                    match self
                        .run_delete(&instance, InstanceState::Error, &force)
                        .await
                    {
                        Ok(()) => {
                            notes.push("the deletion was completed during recovery".to_owned())
                        }
                        Err(e) => notes.push(format!("completing the deletion failed: {e}")),
                    }
                }
            }
        } else {
            for (step, action) in params.undo.iter().rev() {
                if let Err(e) = self.undo(action).await {
                    notes.push(format!("undo of step {step} failed: {e}"));
                }
                mark_undone(&mut op.steps, step);
            }
        }
        for s in op
            .steps
            .iter_mut()
            .filter(|s| s.status == StepStatus::Running)
        {
            s.status = StepStatus::Failed;
            s.finished_at = Some(Utc::now());
        }
        op.status = OperationStatus::Failure;
        let mut reason = format!("interrupted: berthd stopped during step {step:?}");
        for note in notes {
            reason.push_str("; ");
            reason.push_str(&note);
        }
        op.error = Some(reason);
        op.updated_at = Utc::now();
        record.params = serde_json::to_value(OpParams {
            undo: Vec::new(),
            ..params
        })
        .unwrap_or_default();
        self.store.save_operation(&record)?;
        Ok(())
    }

    async fn autostart(self: &Arc<Self>) {
        let records = match self.store.list_instances() {
            Ok(records) => records,
            Err(e) => {
                return tracing::error!(error = %error_chain(&e), "cannot list instances for autostart");
            }
        };
        for record in records.into_iter().filter(|r| r.autostart) {
            if self.observed_state(&record).await != InstanceState::Stopped {
                continue;
            }
            let started = self
                .power_instance(
                    &super::access::daemon(),
                    record.name.as_str(),
                    super::instances::PowerAction::Start,
                    PowerRequest::default(),
                )
                .await;
            match started {
                Ok(op) => tracing::info!(instance = %record.name, operation = %op.id, "autostart"),
                Err(e) => tracing::error!(instance = %record.name, error = %e, "autostart failed"),
            }
        }
    }

    /// Brings the bridge and the nftables table back (after a host reboot, or when someone
    /// flushed them) when any instance uses them; forwards are restored from the store.
    async fn restore_network(&self) {
        let networked = match self.store.list_instances() {
            Ok(records) => records
                .iter()
                .any(|r| self.capabilities(&r.backend).network.on_bridge()),
            Err(e) => return tracing::error!(error = %error_chain(&e), "cannot list instances"),
        };
        if !networked && !self.has_uplink() {
            return;
        }
        if let Err(e) = self.ensure_bridge().await {
            tracing::error!(error = %error_chain(&e), "cannot restore the bridge and its nftables table");
        }
        self.restore_uplink().await;
    }
}
