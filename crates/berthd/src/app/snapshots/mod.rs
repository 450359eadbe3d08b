//! Snapshots of an instance's root filesystem: take (an operation; a running guest is frozen
//! for the copy), list, restore (an operation; a running guest is stopped and started again),
//! delete; and the per-instance schedule that takes and prunes them.

mod create;
mod restore;
mod schedule;

use berth_types::events::LifecycleAction;
use berth_types::snapshot::Snapshot;
use berth_types::{FieldError, InstanceName};

use super::error::error_chain;
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
            .map_err(|e| AppError::internal("deleting the snapshot", e))?;
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

    /// Removes a snapshot from storage, then forgets it; either being gone already is fine.
    pub(crate) async fn remove_snapshot(
        &self,
        instance: &InstanceName,
        snap: &str,
    ) -> Result<(), String> {
        let record = self
            .store
            .get_instance(instance)
            .map_err(|e| error_chain(&e))?;
        if let Some(remote) = record.as_ref().and_then(|r| self.remote(&r.backend)) {
            remote
                .snapshot_delete(instance, snap)
                .await
                .map_err(|e| error_chain(&e))?;
        } else if let Some(record) = &record
            && Self::uses_local_rootfs(&record.backend)
        {
            self.storage
                .driver()
                .delete_snapshot(instance.as_str(), snap)
                .await
                .map_err(|e| error_chain(&e))?;
        }
        self.store
            .delete_snapshot(instance, snap)
            .map_err(|e| error_chain(&e))?;
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
