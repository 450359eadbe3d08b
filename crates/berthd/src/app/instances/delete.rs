//! Deleting an instance: stop it, remove its container state, destroy its rootfs, forget it.
//! Deletion rolls forward: once started it finishes, even after a daemon crash (recovery
//! walks the same steps without an operation).

use std::sync::Arc;

use berth_runtime::{RootfsSource, Runtime};
use berth_store::InstanceRecord;
use berth_types::api::PowerRequest;
use berth_types::{InstanceState, Operation, OperationKind};

use crate::app::Principal;
use crate::app::access::Want;
use crate::app::error::error_chain;
use crate::app::operation::OpError;
use crate::app::steps::{Finished, Pending, declare_steps, drive_detached};
use crate::app::{App, AppError, OperationSpec};

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
        if matches!(state, InstanceState::Running | InstanceState::Suspended) {
            // Deleting a guest its backend cannot reach would forget it while it runs on.
            self.runtime(&record.backend)
                .map_err(|e| refuse_unreachable(&record, state, &e))?;
        }
        let params = serde_json::to_value(&request).unwrap_or_default();
        let spec =
            OperationSpec::on_instance(OperationKind::InstanceDelete, &record.name, &record.owner)
                .request(params);
        let delete = Delete {
            record,
            state,
            request,
        };
        self.spawn_saga(spec, delete)
    }

    /// Removes every trace of `record` without an operation (crash recovery).
    pub(crate) async fn run_delete(
        &self,
        record: &InstanceRecord,
        state: InstanceState,
        request: &PowerRequest,
    ) -> Result<(), OpError> {
        let mut delete = Delete {
            record: record.clone(),
            state,
            request: request.clone(),
        };
        drive_detached(self, &mut delete).await
    }
}

/// Why a running guest is not deleted while berthd cannot use its backend: forgetting it would
/// leave it running, out of every limit's and bill's sight.
fn refuse_unreachable(record: &InstanceRecord, state: InstanceState, err: &AppError) -> AppError {
    AppError::Conflict(format!(
        "instance {} is {} but berthd cannot stop it: {}; deleting it now would leave the guest \
         running. Make backend {} usable again (`berth system` says why), then delete again",
        record.name,
        state.as_str(),
        error_chain(err),
        record.backend
    ))
}

/// `instance_delete`: the instance, the state it was seen in, how to stop it.
pub(crate) struct Delete {
    record: InstanceRecord,
    state: InstanceState,
    request: PowerRequest,
}

declare_steps! {
    /// The steps of `instance_delete`. It rolls forward: once begun it finishes, even after a
    /// crash, so its steps register no undo.
    pub enum DeleteStep for Delete {
        /// Mark it `deleting`; stop a guest that runs (forced when asked, killed when a clean
        /// stop fails).
        Stop = "stop" => stop, undo [];
        /// Remove what the backend keeps, unplug it, destroy its root filesystem.
        Remove = "remove" => remove, undo [];
        /// Remove its directories and backups; forget the row (addresses, forwards, snapshots
        /// go with it), its metrics and its quota.
        Forget = "forget" => forget, undo [];
    }
}

impl Delete {
    async fn stop(&mut self, app: &App, step: Pending<'_>) -> Result<Finished, OpError> {
        let name = &self.record.name;
        let runtime = app.runtime(&self.record.backend);
        if let (InstanceState::Running | InstanceState::Suspended, Err(e)) = (self.state, &runtime)
        {
            // Checked again here for crash recovery; nothing is changed yet.
            return Err(OpError::Failed(
                refuse_unreachable(&self.record, self.state, e).to_string(),
            ));
        }
        app.store
            .set_instance_state(name, InstanceState::Deleting)
            .map_err(|e| OpError::failed("saving", e))?;
        let step = step.begin(format!("stopping {name}")).await?;
        let up = matches!(
            self.state,
            InstanceState::Running | InstanceState::Suspended | InstanceState::Error
        );
        if let (true, Ok(runtime)) = (up, runtime) {
            let forced = PowerRequest {
                force: true,
                ..self.request.clone()
            };
            let request = if self.request.force {
                &forced
            } else {
                &self.request
            };
            let halted = app.halt(runtime, &self.record, self.state, request).await;
            if let Err(err) = halted {
                tracing::warn!(instance = %name, error = %error_chain(&err), "stop before delete failed; killing");
            }
        }
        Ok(step.done())
    }

    async fn remove(&mut self, app: &App, step: Pending<'_>) -> Result<Finished, OpError> {
        let name = &self.record.name;
        let step = step.begin(format!("removing {name}")).await?;
        if let Ok(runtime) = app.runtime(&self.record.backend) {
            runtime
                .remove(name)
                .await
                .map_err(|e| OpError::Failed(format!("removing {name}: {}", error_chain(&e))))?;
        }
        let capabilities = app.capabilities(&self.record.backend);
        if capabilities.network.on_bridge() {
            app.detach_network(name)
                .await
                .map_err(|e| OpError::failed(&format!("unplugging {name}"), e))?;
        }
        if capabilities.rootfs == RootfsSource::Local {
            app.storage
                .destroy(name)
                .await
                .map_err(|e| OpError::failed("destroying the rootfs", e))?;
        }
        Ok(step.done())
    }

    async fn forget(&mut self, app: &App, step: Pending<'_>) -> Result<Finished, OpError> {
        let record = &self.record;
        let name = &record.name;
        let step = step.begin(format!("forgetting {name}")).await?;
        match tokio::fs::remove_dir_all(app.instance_dir(name)).await {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(OpError::failed("removing the instance directory", e));
            }
            _ => {}
        }
        let had_forwards = !app
            .store
            .list_forwards(Some(name))
            .map_err(|e| OpError::failed("reading forwards", e))?
            .is_empty();
        match tokio::fs::remove_dir_all(app.backups_dir().join(name.as_str())).await {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(OpError::failed("removing the backups", e));
            }
            _ => {}
        }
        // Addresses, forwards, snapshots and backups go with the row.
        app.forget_instance_record(name)
            .map_err(|e| OpError::failed("forgetting", e))?;
        if had_forwards {
            app.rebuild_firewall()
                .await
                .map_err(|e| OpError::failed(&format!("removing {name}'s forwards"), e))?;
        }
        app.forget_metrics(name.as_str());
        // Everything it held: the instance, its snapshots and forwards.
        app.release_quota(
            &record.owner,
            &crate::app::quota::instance_target(record.id),
        );
        tracing::info!(instance = %name, "deleted");
        Ok(step.done())
    }
}
