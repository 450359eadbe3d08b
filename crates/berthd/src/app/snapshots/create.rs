//! Taking a snapshot: an operation on a busy-marked instance (or the scheduler's, without one).
//! A running guest is frozen for the copy (milliseconds on btrfs) so its files are consistent,
//! then thawed; a backend with snapshots of its own takes them itself.

use std::sync::Arc;

use berth_runtime::{Runtime, SnapshotSource};
use berth_store::InstanceRecord;
use berth_types::snapshot::{CreateSnapshotRequest, Snapshot};
use berth_types::{InstanceState, Operation, OperationKind};
use chrono::{DateTime, Utc};

use super::parse_snapshot_name;
use crate::app::Principal;
use crate::app::access::Want;
use crate::app::error::error_chain;
use crate::app::operation::OpError;
use crate::app::steps::{Finished, Pending, declare_steps, drive_detached};
use crate::app::undo::UndoAction;
use crate::app::{App, AppError, OperationSpec};

impl App {
    /// `POST /instances/{name}/snapshots`: validates, then starts the operation.
    pub fn create_snapshot(
        self: &Arc<Self>,
        caller: &Principal,
        name: &str,
        request: CreateSnapshotRequest,
    ) -> Result<Operation, AppError> {
        let record = self.instance_for(caller, name, Want::Write)?;
        let existing = self.store.list_snapshots(&record.name)?;
        let snap = match &request.name {
            Some(raw) => parse_snapshot_name(raw)?,
            None => (0..)
                .map(|i| format!("snap{i}"))
                .find(|n| !existing.iter().any(|s| &s.name == n))
                .unwrap_or_else(|| "snap".into()),
        };
        if existing.iter().any(|s| s.name == snap) {
            return Err(AppError::Conflict(format!(
                "instance {name} already has a snapshot {snap}; choose another name"
            )));
        }
        self.reserve_snapshot(&record.owner, record.id, &snap)?;
        let spec = OperationSpec::on_instance(
            OperationKind::InstanceSnapshot,
            &record.name,
            &record.owner,
        )
        .request(serde_json::json!({ "name": snap }))
        .undo(UndoAction::ReleaseQuota {
            owner: record.owner.clone(),
            target: crate::app::quota::snapshot_target(record.id, &snap),
        });
        self.spawn_saga(spec, TakeSnapshot::new(record, snap, false, None))
    }

    /// Takes snapshot `snap` of `record` for the scheduler (`scheduled`, with its expiry),
    /// without an operation; what it half-made is undone when it fails.
    pub(crate) async fn take_scheduled_snapshot(
        &self,
        record: InstanceRecord,
        snap: &str,
        expires_at: Option<DateTime<Utc>>,
    ) -> Result<Snapshot, OpError> {
        let mut take = TakeSnapshot::new(record, snap.to_owned(), true, expires_at);
        drive_detached(self, &mut take).await?;
        Ok(take.snapshot)
    }
}

/// `instance_snapshot`: what to take, and the snapshot as recorded.
pub(crate) struct TakeSnapshot {
    record: InstanceRecord,
    snapshot: Snapshot,
}

impl TakeSnapshot {
    fn new(
        record: InstanceRecord,
        snap: String,
        scheduled: bool,
        expires_at: Option<DateTime<Utc>>,
    ) -> Self {
        Self {
            record,
            snapshot: Snapshot {
                name: snap,
                created_at: Utc::now(),
                size: None,
                scheduled,
                expires_at,
            },
        }
    }
}

declare_steps! {
    /// The steps of `instance_snapshot`.
    pub enum SnapshotStep for TakeSnapshot {
        /// Hold the quota, freeze a running guest, copy (or have the backend snapshot), thaw,
        /// record it.
        Snapshot = "snapshot" => take, undo [ReleaseQuota, DeleteSnapshot, ThawGuest];
    }
}

impl TakeSnapshot {
    async fn take(&mut self, app: &App, step: Pending<'_>) -> Result<Finished, OpError> {
        let (record, snap) = (&self.record, self.snapshot.name.clone());
        let name = &record.name;
        let step = step.begin(format!("snapshot {snap} of {name}")).await?;
        // Scheduled snapshots count too; for an operation this repeats its reservation.
        app.reserve_snapshot(&record.owner, record.id, &snap)
            .map_err(|e| OpError::Failed(e.to_string()))?;
        step.on_undo(UndoAction::DeleteSnapshot {
            name: name.clone(),
            snapshot: snap.clone(),
        });
        let runtime = app
            .runtime(&record.backend)
            .map_err(|e| OpError::failed("backend", e))?;
        if runtime.capabilities().snapshots == SnapshotSource::Backend {
            runtime
                .snapshot_create(name, &snap)
                .await
                .map_err(|e| OpError::Failed(format!("snapshot {snap}: {}", error_chain(&e))))?;
        } else {
            let freeze = app.observed_state(record).await == InstanceState::Running;
            if freeze {
                step.on_undo(UndoAction::ThawGuest {
                    name: name.clone(),
                    backend: record.backend.clone(),
                });
                runtime.freeze(name).await.map_err(|e| {
                    OpError::Failed(format!("freezing {name}: {}", error_chain(&e)))
                })?;
            }
            let storage = app.storage.driver();
            let taken = storage.create_snapshot(name.as_str(), &snap).await;
            if freeze {
                runtime
                    .thaw(name)
                    .await
                    .map_err(|e| OpError::Failed(format!("thawing {name}: {}", error_chain(&e))))?;
            }
            taken.map_err(|e| OpError::Failed(format!("snapshot {snap}: {}", error_chain(&e))))?;
            self.snapshot.size = storage.snapshot_size(name.as_str(), &snap).await.ok();
        }
        app.store
            .insert_snapshot(name, &self.snapshot)
            .map_err(|e| OpError::failed("recording the snapshot", e))?;
        tracing::info!(instance = %name, snapshot = %snap, size = ?self.snapshot.size, operation = ?step.operation(), "snapshot taken");
        Ok(step.done())
    }
}
