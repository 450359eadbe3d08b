//! Undo actions: data, not closures, so they can be persisted with their operation and replayed
//! by crash recovery. Every action is idempotent: undoing what is not there succeeds.

use berth_runtime::Runtime;
use berth_types::{InstanceName, InstanceState};
use serde::{Deserialize, Serialize};

use super::App;
use super::error::error_chain;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum UndoAction {
    /// Delete the instance's row.
    DeleteRecord { name: InstanceName },
    /// Destroy the instance's root filesystem clone.
    DestroyRootfs { name: InstanceName },
    /// Stop the guest and remove what the backend keeps for it.
    RemoveContainer { name: InstanceName, backend: String },
    /// Remove the instance's veth and netns.
    DetachNetwork { name: InstanceName },
    /// Thaw a guest frozen for a consistent snapshot.
    ThawGuest { name: InstanceName, backend: String },
    /// Delete a half-taken snapshot (storage and row).
    DeleteSnapshot {
        name: InstanceName,
        snapshot: String,
    },
    /// Remove a file berthd made (a half-written backup).
    RemoveFile { path: std::path::PathBuf },
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

impl App {
    /// Performs one undo action.
    pub(crate) async fn undo(&self, action: &UndoAction) -> Result<(), String> {
        match action {
            UndoAction::DeleteRecord { name } => self
                .store
                .delete_instance(name)
                .map_err(|e| error_chain(&e)),
            UndoAction::DestroyRootfs { name } => self.storage.destroy(name).await,
            UndoAction::RemoveContainer { name, backend } => match self.runtime(backend) {
                Ok(runtime) => runtime.remove(name).await.map_err(|e| error_chain(&e)),
                Err(_) => Ok(()),
            },
            UndoAction::DetachNetwork { name } => self.detach_network(name).await,
            UndoAction::ThawGuest { name, backend } => match self.runtime(backend) {
                Ok(runtime) => runtime.thaw(name).await.map_err(|e| error_chain(&e)),
                Err(_) => Ok(()),
            },
            UndoAction::ReleaseQuota { owner, target } => {
                self.release_quota(owner, target);
                Ok(())
            }
            UndoAction::DeleteSnapshot { name, snapshot } => {
                self.remove_snapshot(name, snapshot).await
            }
            UndoAction::RemoveFile { path } => match tokio::fs::remove_file(path).await {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e.to_string()),
                _ => Ok(()),
            },
            UndoAction::RemoveStateDir { name } => {
                match tokio::fs::remove_dir_all(self.instance_dir(name)).await {
                    Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e.to_string()),
                    _ => Ok(()),
                }
            }
            UndoAction::RestoreState { name, state } => self
                .store
                .set_instance_state(name, *state)
                .map_err(|e| error_chain(&e)),
        }
    }
}
