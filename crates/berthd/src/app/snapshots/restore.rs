//! Restoring a snapshot: a running guest is stopped cleanly, its rootfs replaced by a fresh
//! copy of the snapshot (disk limit re-applied) or rolled back by the backend, and started
//! again.

use std::sync::Arc;

use berth_runtime::{Runtime, SnapshotSource};
use berth_store::InstanceRecord;
use berth_types::api::PowerRequest;
use berth_types::{InstanceState, Operation, OperationKind};

use crate::app::Principal;
use crate::app::access::Want;
use crate::app::error::{HostError, error_chain};
use crate::app::operation::OpError;
use crate::app::steps::{Finished, Pending, declare_steps};
use crate::app::{App, AppError, OperationSpec};

impl App {
    /// `POST /instances/{name}/snapshots/{snap}/restore`.
    pub async fn restore_snapshot(
        self: &Arc<Self>,
        caller: &Principal,
        name: &str,
        snap: &str,
    ) -> Result<Operation, AppError> {
        let record = self.instance_for(caller, name, Want::Write)?;
        self.snapshot_of(&record.name, snap)?;
        self.ensure_writable(&record.backend).await?;
        let state = self.observed_state(&record).await;
        let spec =
            OperationSpec::on_instance(OperationKind::InstanceRestore, &record.name, &record.owner)
                .request(serde_json::json!({ "snapshot": snap }));
        let restore = Restore {
            record,
            was_up: matches!(state, InstanceState::Running | InstanceState::Suspended),
            state,
            snap: snap.to_owned(),
        };
        self.spawn_saga(spec, restore)
    }
}

/// `instance_restore`: the instance, the state it was in, the snapshot.
pub(crate) struct Restore {
    record: InstanceRecord,
    state: InstanceState,
    was_up: bool,
    snap: String,
}

declare_steps! {
    /// The steps of `instance_restore`. The guest is stopped, never half-restored: storage
    /// swaps the trees with renames, and a crash before the start step leaves it stopped on
    /// whichever tree it has.
    pub enum RestoreStep for Restore {
        /// Stop a running (or suspended) guest cleanly.
        Stop = "stop" => stop, undo [];
        /// Replace the root filesystem with a writable copy of the snapshot (or have the
        /// backend roll back).
        Restore = "restore" => restore, undo [];
        /// Start it again, if it was up.
        Start = "start" => start, undo [];
    }
}

impl Restore {
    async fn stop(&mut self, app: &App, step: Pending<'_>) -> Result<Finished, OpError> {
        let name = self.record.name.clone();
        if !self.was_up {
            return Ok(step.skip(format!("{name} is {}", self.state.as_str())));
        }
        let step = step.begin(format!("stopping {name}")).await?;
        let runtime = app
            .runtime(&self.record.backend)
            .map_err(|e| OpError::failed("backend", e))?;
        app.halt(runtime, &self.record, self.state, &PowerRequest::default())
            .await
            .map_err(|e| OpError::Failed(format!("stopping {name}: {}", error_chain(&e))))?;
        self.record.state = InstanceState::Stopped;
        app.store
            .update_instance(&self.record)
            .map_err(|e| OpError::failed("saving", e))?;
        Ok(step.done())
    }

    async fn restore(&mut self, app: &App, step: Pending<'_>) -> Result<Finished, OpError> {
        let (name, snap) = (&self.record.name, &self.snap);
        let step = step.begin(format!("restoring {snap}")).await?;
        let runtime = app
            .runtime(&self.record.backend)
            .map_err(|e| OpError::failed("backend", e))?;
        let failed = |e| OpError::failed(&format!("restoring {snap}"), e);
        match runtime.capabilities().snapshots {
            SnapshotSource::Backend => runtime
                .snapshot_rollback(name, snap)
                .await
                .map_err(|e| failed(HostError::from(e)))?,
            SnapshotSource::Storage => app
                .storage
                .driver()
                .restore_snapshot(name.as_str(), snap, self.record.limits.disk)
                .await
                .map_err(|e| failed(HostError::host("storage", e)))?,
        }
        tracing::info!(instance = %name, snapshot = %snap, operation = ?step.operation(), "restored");
        Ok(step.done())
    }

    async fn start(&mut self, app: &App, step: Pending<'_>) -> Result<Finished, OpError> {
        let name = self.record.name.clone();
        if !self.was_up {
            return Ok(step.skip("it was not running"));
        }
        let step = step.begin(format!("starting {name}")).await?;
        app.boot(&self.record)
            .await
            .map_err(|e| OpError::failed(&format!("starting {name}"), e))?;
        self.record.state = InstanceState::Running;
        app.store
            .update_instance(&self.record)
            .map_err(|e| OpError::failed("saving", e))?;
        Ok(step.done())
    }
}
