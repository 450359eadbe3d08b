//! Undo actions: data, not closures, so they can be persisted with their operation and replayed
//! by crash recovery. Every action is idempotent: undoing what is not there succeeds.

use berth_runtime::{Placement, Runtime};
use berth_types::{BackendName, InstanceName, InstanceState};
use serde::{Deserialize, Serialize};

use super::App;
use super::error::HostError;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum UndoAction {
    /// Delete the instance's row.
    DeleteRecord { name: InstanceName },
    /// Destroy the instance's root filesystem clone.
    DestroyRootfs { name: InstanceName },
    /// Stop the guest and remove what the backend keeps for it. `instance`: Berth's id of the
    /// instance it was made for; when a remote backend cannot remove it now, it is removed
    /// once the backend answers (`leftovers`), if still that instance's.
    RemoveContainer {
        name: InstanceName,
        backend: BackendName,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        instance: Option<uuid::Uuid>,
    },
    /// Remove the instance's veth and netns.
    DetachNetwork { name: InstanceName },
    /// Thaw a guest frozen for a consistent snapshot.
    ThawGuest {
        name: InstanceName,
        backend: BackendName,
    },
    /// Delete a half-taken snapshot (storage and row).
    DeleteSnapshot {
        name: InstanceName,
        snapshot: String,
    },
    /// Remove a file berthd made (a saved upload).
    RemoveFile { path: std::path::PathBuf },
    /// Remove a backup's archive and forget it.
    DeleteBackup {
        id: uuid::Uuid,
        path: std::path::PathBuf,
    },
    /// Remove `<data_dir>/instances/<name>`.
    RemoveStateDir { name: InstanceName },
    /// Give back a quota reservation (and everything under it).
    ReleaseQuota { owner: String, target: String },
    /// Put the row's state back.
    RestoreState {
        name: InstanceName,
        state: InstanceState,
    },
}

/// Which undo an action is, without its data: what a step's declaration lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UndoKind {
    DeleteRecord,
    DestroyRootfs,
    RemoveContainer,
    DetachNetwork,
    ThawGuest,
    DeleteSnapshot,
    RemoveFile,
    DeleteBackup,
    RemoveStateDir,
    ReleaseQuota,
    RestoreState,
}

impl UndoAction {
    pub fn kind(&self) -> UndoKind {
        match self {
            Self::DeleteRecord { .. } => UndoKind::DeleteRecord,
            Self::DestroyRootfs { .. } => UndoKind::DestroyRootfs,
            Self::RemoveContainer { .. } => UndoKind::RemoveContainer,
            Self::DetachNetwork { .. } => UndoKind::DetachNetwork,
            Self::ThawGuest { .. } => UndoKind::ThawGuest,
            Self::DeleteSnapshot { .. } => UndoKind::DeleteSnapshot,
            Self::RemoveFile { .. } => UndoKind::RemoveFile,
            Self::DeleteBackup { .. } => UndoKind::DeleteBackup,
            Self::RemoveStateDir { .. } => UndoKind::RemoveStateDir,
            Self::ReleaseQuota { .. } => UndoKind::ReleaseQuota,
            Self::RestoreState { .. } => UndoKind::RestoreState,
        }
    }
}

impl App {
    /// Performs one undo action.
    pub(crate) async fn undo(&self, action: &UndoAction) -> Result<(), HostError> {
        let removing =
            |path: &std::path::Path, e| HostError::host(format!("removing {}", path.display()), e);
        let absent_is_fine = |path: &std::path::Path, removed: std::io::Result<()>| match removed {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(removing(path, e)),
            _ => Ok(()),
        };
        match action {
            UndoAction::DeleteRecord { name } => Ok(self.forget_instance_record(name)?),
            UndoAction::DestroyRootfs { name } => self
                .storage
                .destroy(name)
                .await
                .map_err(|e| HostError::host("destroying the rootfs", e)),
            UndoAction::RemoveContainer {
                name,
                backend,
                instance,
            } => match self.runtime(backend) {
                Ok(runtime) => match (runtime.remove(name).await, instance) {
                    (Err(err), Some(id))
                        if runtime.capabilities().placement == Placement::Remote =>
                    {
                        self.defer_leftover(backend, name, *id, &err)
                    }
                    (removed, _) => Ok(removed?),
                },
                Err(_) => Ok(()),
            },
            UndoAction::DetachNetwork { name } => self.detach_network(name).await,
            UndoAction::ThawGuest { name, backend } => match self.runtime(backend) {
                Ok(runtime) => Ok(runtime.thaw(name).await?),
                Err(_) => Ok(()),
            },
            UndoAction::ReleaseQuota { owner, target } => {
                self.release_quota(owner, target);
                Ok(())
            }
            UndoAction::DeleteSnapshot { name, snapshot } => {
                self.remove_snapshot(name, snapshot).await
            }
            UndoAction::RemoveFile { path } => {
                absent_is_fine(path, tokio::fs::remove_file(path).await)
            }
            UndoAction::DeleteBackup { id, path } => {
                absent_is_fine(path, tokio::fs::remove_file(path).await)?;
                Ok(self.store.delete_backup(*id).map(drop)?)
            }
            UndoAction::RemoveStateDir { name } => {
                let dir = self.instance_dir(name);
                absent_is_fine(&dir, tokio::fs::remove_dir_all(&dir).await)
            }
            UndoAction::RestoreState { name, state } => {
                Ok(self.store.set_instance_state(name, *state)?)
            }
        }
    }
}
