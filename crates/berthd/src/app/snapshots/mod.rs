//! Snapshots of an instance's root filesystem: take (an operation; a running guest is frozen
//! for the copy), list, restore (an operation; a running guest is stopped and started again),
//! delete; and the per-instance schedule that takes and prunes them.

mod create;
mod restore;
mod schedule;

pub(crate) use create::SnapshotStep;
pub(crate) use restore::RestoreStep;

use berth_runtime::{Runtime, SnapshotSource};
use berth_types::events::LifecycleAction;
use berth_types::snapshot::Snapshot;
use berth_types::{FieldError, InstanceName};

use super::error::HostError;
use super::{App, AppError};
use crate::app::Principal;
use crate::app::access::Want;

impl App {
    pub fn list_snapshots(
        &self,
        caller: &Principal,
        name: &str,
    ) -> Result<Vec<Snapshot>, AppError> {
        let record = self.instance_for(caller, name, Want::Read)?;
        Ok(self.store.list_snapshots(&record.name)?)
    }

    /// `DELETE /instances/{name}/snapshots/{snap}`.
    pub async fn delete_snapshot(
        &self,
        caller: &Principal,
        name: &str,
        snap: &str,
    ) -> Result<(), AppError> {
        let record = self.instance_for(caller, name, Want::Write)?;
        self.snapshot_of(&record.name, snap)?;
        self.ensure_writable(&record.backend).await?;
        if self.busy_lock().contains_key(&record.name) {
            return Err(AppError::Conflict(format!(
                "instance {name} is busy with an operation; wait for it"
            )));
        }
        self.remove_snapshot(&record.name, snap)
            .await
            .map_err(|e| AppError::host("deleting the snapshot", e))?;
        tracing::info!(instance = %record.name, snapshot = snap, "snapshot deleted");
        self.publish_snapshot_event(&record.name, LifecycleAction::SnapshotDeleted, snap);
        Ok(())
    }

    /// Tells event subscribers that snapshot `snap` of `instance` was made or removed.
    pub(crate) fn publish_snapshot_event(
        &self,
        instance: &InstanceName,
        action: LifecycleAction,
        snap: &str,
    ) {
        if let Ok(Some(record)) = self.store.get_instance(instance) {
            self.events.lifecycle(
                instance.as_str(),
                &record.owner,
                action,
                Some(record.state),
                Some(snap.to_owned()),
            );
        }
    }

    /// The stored snapshot `snap` of `instance`, or a 404 naming it.
    pub(crate) fn snapshot_of(
        &self,
        instance: &InstanceName,
        snap: &str,
    ) -> Result<Snapshot, AppError> {
        self.store
            .list_snapshots(instance)?
            .into_iter()
            .find(|s| s.name == snap)
            .ok_or_else(|| AppError::NotFound(format!("snapshot {snap} of instance {instance}")))
    }

    /// Removes a snapshot where it is kept (Berth's storage or the backend), then forgets it;
    /// either being gone already is fine.
    pub(crate) async fn remove_snapshot(
        &self,
        instance: &InstanceName,
        snap: &str,
    ) -> Result<(), HostError> {
        let record = self.store.get_instance(instance)?;
        if let Some(record) = &record {
            match self.capabilities(&record.backend).snapshots {
                SnapshotSource::Backend => {
                    if let Some(runtime) = self.backends.find(&record.backend) {
                        runtime.snapshot_delete(instance, snap).await?;
                    }
                }
                SnapshotSource::Storage => self
                    .storage
                    .driver()
                    .delete_snapshot(instance.as_str(), snap)
                    .await
                    .map_err(|e| HostError::host("deleting the snapshot", e))?,
            }
        }
        self.store.delete_snapshot(instance, snap)?;
        if let Some(record) = &record {
            let target = crate::app::quota::snapshot_target(record.id, snap);
            self.release_quota(&record.owner, &target);
        }
        Ok(())
    }
}

/// Checks a snapshot name: the rules of instance names, naming the field.
fn parse_snapshot_name(raw: &str) -> Result<String, FieldError> {
    InstanceName::parse_field(raw, "name").map(|n| n.to_string())
}
