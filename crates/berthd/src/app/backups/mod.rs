//! Backups of an instance: made as an operation (a consistent snapshot, exported to one
//! `.tar.zst` under `<data_dir>/backups/<instance>/`, then the oldest beyond `[backups] keep`
//! deleted), listed, downloaded, deleted; and imported as a new instance.

mod create;
mod import;

pub(crate) use create::BackupStep;
pub(crate) use import::ImportStep;

use std::path::PathBuf;
use std::sync::Arc;

use berth_store::BackupRecord;
use berth_types::api::Backup;
use berth_types::{InstanceName, Operation};
use uuid::Uuid;

use super::{App, AppError};
use crate::app::Principal;
use crate::app::access::Want;

impl App {
    pub(crate) fn backups_dir(&self) -> PathBuf {
        self.config.data_dir.join("backups")
    }

    pub fn list_backups(&self, caller: &Principal, name: &str) -> Result<Vec<Backup>, AppError> {
        let record = self.instance_for(caller, name, Want::Read)?;
        Ok(self
            .store
            .list_backups(&record.name)?
            .iter()
            .map(view)
            .collect())
    }

    /// The archive of backup `id` of `name`, to stream out.
    pub fn backup_file(
        &self,
        caller: &Principal,
        name: &str,
        id: &str,
    ) -> Result<(Backup, PathBuf), AppError> {
        let backup = self.backup_of(caller, name, id, Want::Read)?;
        Ok((view(&backup), PathBuf::from(&backup.path)))
    }

    /// Imports backup `id` of `name` as a new instance `new_name` (the import operation).
    pub async fn restore_backup(
        self: &Arc<Self>,
        caller: &Principal,
        name: &str,
        id: &str,
        new_name: &str,
    ) -> Result<Operation, AppError> {
        let backup = self.backup_of(caller, name, id, Want::Read)?;
        InstanceName::parse(new_name)?;
        let file = std::fs::File::open(&backup.path)
            .map_err(|e| AppError::internal("opening the backup", e))?;
        self.import_instance(caller, Some(new_name), Box::new(file))
            .await
    }

    pub async fn delete_backup(
        &self,
        caller: &Principal,
        name: &str,
        id: &str,
    ) -> Result<(), AppError> {
        let backup = self.backup_of(caller, name, id, Want::Write)?;
        self.remove_backup(&backup).await
    }

    fn backup_of(
        &self,
        caller: &Principal,
        name: &str,
        id: &str,
        want: Want,
    ) -> Result<BackupRecord, AppError> {
        let record = self.instance_for(caller, name, want)?;
        let missing = || AppError::NotFound(format!("backup {id} of instance {name}"));
        let id = Uuid::parse_str(id).map_err(|_| missing())?;
        self.store
            .list_backups(&record.name)?
            .into_iter()
            .find(|b| b.id == id)
            .ok_or_else(missing)
    }

    pub(crate) async fn remove_backup(&self, backup: &BackupRecord) -> Result<(), AppError> {
        match tokio::fs::remove_file(&backup.path).await {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(AppError::internal("removing the backup", e));
            }
            _ => {}
        }
        self.store.delete_backup(backup.id)?;
        tracing::info!(instance = %backup.instance, backup = %backup.id, "backup deleted");
        Ok(())
    }
}

fn view(record: &BackupRecord) -> Backup {
    Backup {
        id: record.id.to_string(),
        created_at: record.created_at,
        size: record.size,
    }
}
