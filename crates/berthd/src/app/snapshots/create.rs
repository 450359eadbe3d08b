//! Taking a snapshot: an operation on a busy-marked instance. A running guest is frozen for
//! the copy (milliseconds on btrfs) so its files are consistent, then thawed.

use std::sync::Arc;

use berth_runtime::Runtime;
use berth_store::InstanceRecord;
use berth_types::snapshot::{CreateSnapshotRequest, Snapshot};
use berth_types::{InstanceState, Operation, OperationKind};
use chrono::{DateTime, Utc};

use super::parse_snapshot_name;
use crate::app::Principal;
use crate::app::access::Want;
use crate::app::error::error_chain;
use crate::app::operation::{OpError, OpHandle};
use crate::app::undo::UndoAction;
use crate::app::{App, AppError};

pub const SNAPSHOT_STEPS: &[&str] = &["snapshot"];

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
        let params = serde_json::json!({ "name": snap });
        let target = record.name.clone();
        self.reserve_snapshot(&record.owner, record.id, &snap)?;
        let quota = UndoAction::ReleaseQuota {
            owner: record.owner.clone(),
            target: crate::app::quota::snapshot_target(record.id, &snap),
        };
        let (owner, held) = (record.owner.clone(), quota.clone());
        let operation = self.spawn_operation(
            &record.owner.clone(),
            OperationKind::InstanceSnapshot,
            name,
            Some(&target),
            SNAPSHOT_STEPS,
            params,
            move |app, op| async move {
                op.on_undo(quota);
                op.step(0, format!("snapshot {snap} of {}", record.name))
                    .await?;
                app.take_snapshot(Some(&op), &record, &snap, false, None)
                    .await
                    .map(|_| ())
            },
        );
        if operation.is_err()
            && let UndoAction::ReleaseQuota { target, .. } = &held
        {
            self.release_quota(&owner, target);
        }
        operation
    }

    /// Takes snapshot `snap` of `record` (freezing a running guest meanwhile) and records it.
    /// Used by the operation and by the scheduler (`scheduled`, with its expiry).
    pub(crate) async fn take_snapshot(
        &self,
        op: Option<&OpHandle>,
        record: &InstanceRecord,
        snap: &str,
        scheduled: bool,
        expires_at: Option<DateTime<Utc>>,
    ) -> Result<Snapshot, OpError> {
        let name = &record.name;
        let undo = |action: UndoAction| {
            if let Some(op) = op {
                op.on_undo(action);
            }
        };
        let mut snapshot = Snapshot {
            name: snap.to_owned(),
            created_at: Utc::now(),
            size: None,
            scheduled,
            expires_at,
        };
        // Scheduled snapshots count too; for an operation this repeats its reservation.
        self.reserve_snapshot(&record.owner, record.id, snap)
            .map_err(|e| OpError::Failed(e.to_string()))?;
        undo(UndoAction::DeleteSnapshot {
            name: name.clone(),
            snapshot: snap.to_owned(),
        });
        if Self::uses_local_rootfs(&record.backend) {
            let runtime = self
                .runtime(&record.backend)
                .map_err(|e| OpError::failed("backend", e))?;
            let freeze = self.observed_state(record).await == InstanceState::Running;
            if freeze {
                undo(UndoAction::ThawGuest {
                    name: name.clone(),
                    backend: record.backend.clone(),
                });
                runtime.freeze(name).await.map_err(|e| {
                    OpError::Failed(format!("freezing {name}: {}", error_chain(&e)))
                })?;
            }
            let taken = self
                .storage
                .driver()
                .create_snapshot(name.as_str(), snap)
                .await;
            if freeze {
                runtime
                    .thaw(name)
                    .await
                    .map_err(|e| OpError::Failed(format!("thawing {name}: {}", error_chain(&e))))?;
            }
            taken.map_err(|e| OpError::Failed(format!("snapshot {snap}: {}", error_chain(&e))))?;
            snapshot.size = self
                .storage
                .driver()
                .snapshot_size(name.as_str(), snap)
                .await
                .ok();
        } else if let Some(remote) = self.remote(&record.backend) {
            remote
                .snapshot_create(name, snap)
                .await
                .map_err(|e| OpError::Failed(format!("snapshot {snap}: {}", error_chain(&e))))?;
        }
        self.store
            .insert_snapshot(name, &snapshot)
            .map_err(|e| OpError::failed("recording the snapshot", e))?;
        tracing::info!(instance = %name, snapshot = snap, size = ?snapshot.size, "snapshot taken");
        Ok(snapshot)
    }
}
