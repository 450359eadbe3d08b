//! Deleting an instance: stop it, remove its container state, destroy its rootfs, forget it.
//! Deletion rolls forward: once started it finishes, even after a daemon crash.

use std::sync::Arc;

use berth_runtime::Runtime;
use berth_store::InstanceRecord;
use berth_types::api::PowerRequest;
use berth_types::{InstanceState, Operation, OperationKind};

use crate::app::Principal;
use crate::app::access::Want;
use crate::app::error::error_chain;
use crate::app::network::networked;
use crate::app::operation::{OpError, OpHandle};
use crate::app::{App, AppError};

pub const DELETE_STEPS: &[&str] = &["stop", "remove", "forget"];

impl App {
    pub async fn delete_instance(
        self: &Arc<Self>,
        caller: &Principal,
        name: &str,
        request: PowerRequest,
    ) -> Result<Operation, AppError> {
        let record = self.instance_for(caller, name, Want::Write)?;
        self.ensure_writable(&record.backend).await?;
        let state = self.observed_state(&record).await;
        if matches!(state, InstanceState::Running | InstanceState::Suspended) && !request.force {
            return Err(AppError::Conflict(format!(
                "instance {name} is {}; stop it first or delete with force",
                state.as_str()
            )));
        }
        let params = serde_json::to_value(&request).unwrap_or_default();
        let target = record.name.clone();
        self.spawn_operation(
            &record.owner.clone(),
            OperationKind::InstanceDelete,
            name,
            Some(&target),
            DELETE_STEPS,
            params,
            move |app, op| async move { app.run_delete(Some(&op), &record, state, &request).await },
        )
    }

    /// Removes every trace of `record`. Also used by crash recovery, without an operation.
    pub(crate) async fn run_delete(
        &self,
        op: Option<&OpHandle>,
        record: &InstanceRecord,
        state: InstanceState,
        request: &PowerRequest,
    ) -> Result<(), OpError> {
        let name = &record.name;
        self.store
            .set_instance_state(name, InstanceState::Deleting)
            .map_err(|e| OpError::failed("saving", e))?;
        let step = |index: usize, message: String| async move {
            match op {
                Some(op) => op.step(index, message).await,
                None => Ok(()),
            }
        };
        step(0, format!("stopping {name}")).await?;
        if let Ok(runtime) = self.runtime(&record.backend) {
            if matches!(
                state,
                InstanceState::Running | InstanceState::Suspended | InstanceState::Error
            ) {
                let forced = PowerRequest {
                    force: true,
                    ..request.clone()
                };
                let halted = self
                    .halt(
                        runtime,
                        record,
                        state,
                        if request.force { &forced } else { request },
                    )
                    .await;
                if let Err(err) = halted {
                    tracing::warn!(instance = %name, error = %error_chain(&err), "stop before delete failed; killing");
                }
            }
            step(1, format!("removing {name}")).await?;
            runtime
                .remove(name)
                .await
                .map_err(|e| OpError::Failed(format!("removing {name}: {}", error_chain(&e))))?;
        }
        if networked(&record.backend) {
            self.detach_network(name)
                .await
                .map_err(|e| OpError::Failed(format!("unplugging {name}: {e}")))?;
        }
        if Self::uses_local_rootfs(&record.backend) {
            self.storage
                .destroy(name)
                .await
                .map_err(|e| OpError::Failed(format!("destroying the rootfs: {e}")))?;
        }
        step(2, format!("forgetting {name}")).await?;
        match tokio::fs::remove_dir_all(self.instance_dir(name)).await {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(OpError::failed("removing the instance directory", e));
            }
            _ => {}
        }
        let had_forwards = !self
            .store
            .list_forwards(Some(name))
            .map_err(|e| OpError::failed("reading forwards", e))?
            .is_empty();
        match tokio::fs::remove_dir_all(self.backups_dir().join(name.as_str())).await {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(OpError::failed("removing the backups", e));
            }
            _ => {}
        }
        // Addresses, forwards, snapshots and backups go with the row.
        self.store
            .delete_instance(name)
            .map_err(|e| OpError::failed("forgetting", e))?;
        if had_forwards {
            self.rebuild_firewall()
                .await
                .map_err(|e| OpError::Failed(format!("removing {name}'s forwards: {e}")))?;
        }
        self.forget_metrics(name.as_str());
        // Everything it held: the instance, its snapshots and forwards.
        self.release_quota(
            &record.owner,
            &crate::app::quota::instance_target(record.id),
        );
        tracing::info!(instance = %name, "deleted");
        Ok(())
    }
}
