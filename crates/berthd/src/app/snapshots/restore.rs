//! Restoring a snapshot: a running guest is stopped cleanly, its rootfs replaced by a fresh
//! copy of the snapshot (disk limit re-applied), and started again.

use std::sync::Arc;

use berth_types::api::PowerRequest;
use berth_types::{InstanceState, Operation, OperationKind};

use crate::app::Principal;
use crate::app::access::Want;
use crate::app::error::error_chain;
use crate::app::operation::OpError;
use crate::app::{App, AppError};

pub const RESTORE_STEPS: &[&str] = &["stop", "restore", "start"];

impl App {
    /// `POST /instances/{name}/snapshots/{snap}/restore`.
    pub async fn restore_snapshot(
        self: &Arc<Self>,
        caller: &Principal,
        name: &str,
        snap: &str,
    ) -> Result<Operation, AppError> {
        let mut record = self.instance_for(caller, name, Want::Write)?;
        self.snapshot_of(&record.name, snap)?;
        self.ensure_writable(&record.backend).await?;
        let state = self.observed_state(&record).await;
        let snap = snap.to_owned();
        let target = record.name.clone();
        let params = serde_json::json!({ "snapshot": snap });
        self.spawn_operation(
            &record.owner.clone(),
            OperationKind::InstanceRestore,
            name,
            Some(&target),
            RESTORE_STEPS,
            params,
            move |app, op| async move {
                let name = record.name.clone();
                let was_up = matches!(state, InstanceState::Running | InstanceState::Suspended);
                if was_up {
                    op.step(0, format!("stopping {name}")).await?;
                    let runtime = app
                        .runtime(&record.backend)
                        .map_err(|e| OpError::failed("backend", e))?;
                    app.halt(runtime, &record, state, &PowerRequest::default())
                        .await
                        .map_err(|e| {
                            OpError::Failed(format!("stopping {name}: {}", error_chain(&e)))
                        })?;
                    record.state = InstanceState::Stopped;
                    app.store
                        .update_instance(&record)
                        .map_err(|e| OpError::failed("saving", e))?;
                } else {
                    op.skip(0, format!("{name} is {}", state.as_str()));
                }
                op.step(1, format!("restoring {snap}")).await?;
                if let Some(remote) = app.remote(&record.backend) {
                    remote.snapshot_rollback(&name, &snap).await.map_err(|e| {
                        OpError::Failed(format!("restoring {snap}: {}", error_chain(&e)))
                    })?;
                } else if Self::uses_local_rootfs(&record.backend) {
                    app.storage
                        .driver()
                        .restore_snapshot(name.as_str(), &snap, record.limits.disk)
                        .await
                        .map_err(|e| {
                            OpError::Failed(format!("restoring {snap}: {}", error_chain(&e)))
                        })?;
                }
                if was_up {
                    op.step(2, format!("starting {name}")).await?;
                    app.boot(&record)
                        .await
                        .map_err(|e| OpError::Failed(format!("starting {name}: {e}")))?;
                    record.state = InstanceState::Running;
                    app.store
                        .update_instance(&record)
                        .map_err(|e| OpError::failed("saving", e))?;
                } else {
                    op.skip(2, "it was not running");
                }
                tracing::info!(instance = %name, snapshot = %snap, operation = %op.id(), "restored");
                Ok(())
            },
        )
    }
}
