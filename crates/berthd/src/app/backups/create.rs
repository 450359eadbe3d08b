//! Making a backup: freeze a running guest for a snapshot (milliseconds on btrfs), export the
//! snapshot while the guest runs on, drop the snapshot, keep the newest `[backups] keep`.

use std::path::PathBuf;
use std::sync::Arc;

use berth_runtime::{RootfsSource, Runtime};
use berth_storage::backup::BackupManifest;
use berth_store::{BackupRecord, InstanceRecord};
use berth_types::api::CreateBackupRequest;
use berth_types::{InstanceState, Operation, OperationKind};
use chrono::Utc;
use uuid::Uuid;

use crate::app::Principal;
use crate::app::access::Want;
use crate::app::error::{HostError, error_chain};
use crate::app::operation::OpError;
use crate::app::steps::{Finished, Pending, declare_steps};
use crate::app::undo::UndoAction;
use crate::app::{App, AppError, OperationSpec};

impl App {
    /// `POST /instances/{name}/backups`.
    pub fn create_backup(
        self: &Arc<Self>,
        caller: &Principal,
        name: &str,
        request: CreateBackupRequest,
    ) -> Result<Operation, AppError> {
        let record = self.instance_for(caller, name, Want::Write)?;
        if self.capabilities(&record.backend).rootfs != RootfsSource::Local {
            return Err(AppError::Conflict(format!(
                "instance {name} has no local root filesystem (backend {}) to back up",
                record.backend
            )));
        }
        let spec =
            OperationSpec::on_instance(OperationKind::InstanceBackup, &record.name, &record.owner)
                .request(serde_json::json!({ "snapshots": request.snapshots }));
        let id = Uuid::new_v4();
        let backup = MakeBackup {
            path: self
                .backups_dir()
                .join(record.name.as_str())
                .join(format!("{id}.tar.zst")),
            snap: format!("backup-{}", &id.simple().to_string()[..12]),
            id,
            record,
            with_snapshots: request.snapshots,
        };
        self.spawn_saga(spec, backup)
    }
}

/// `instance_backup`: the instance, the archive to make and the snapshot it is made from.
pub(crate) struct MakeBackup {
    record: InstanceRecord,
    with_snapshots: bool,
    id: Uuid,
    /// `<data_dir>/backups/<instance>/<id>.tar.zst`.
    path: PathBuf,
    /// The snapshot the archive is exported from, dropped after.
    snap: String,
}

declare_steps! {
    /// The steps of `instance_backup`.
    pub enum BackupStep for MakeBackup {
        /// Freeze a running guest, snapshot its root filesystem, thaw it.
        Snapshot = "snapshot" => snapshot, undo [DeleteSnapshot, ThawGuest];
        /// Export the snapshot (and the instance's snapshots, when asked) to one archive while
        /// the guest runs on; record it; drop the snapshot.
        Export = "export" => export, undo [DeleteBackup];
        /// Delete the oldest backups beyond `[backups] keep`.
        Prune = "prune" => prune, undo [];
    }
}

impl MakeBackup {
    async fn snapshot(&mut self, app: &App, step: Pending<'_>) -> Result<Finished, OpError> {
        let (record, snap) = (&self.record, &self.snap);
        let name = &record.name;
        let step = step
            .begin(format!("snapshot of {name} for the backup"))
            .await?;
        step.on_undo(UndoAction::DeleteSnapshot {
            name: name.clone(),
            snapshot: snap.clone(),
        });
        let runtime = app
            .runtime(&record.backend)
            .map_err(|e| OpError::failed("backend", e))?;
        let freeze = app.observed_state(record).await == InstanceState::Running;
        if freeze {
            step.on_undo(UndoAction::ThawGuest {
                name: name.clone(),
                backend: record.backend.clone(),
            });
            runtime
                .freeze(name)
                .await
                .map_err(|e| OpError::failed("freezing", e))?;
        }
        let taken = app
            .storage
            .driver()
            .create_snapshot(name.as_str(), snap)
            .await;
        if freeze {
            runtime
                .thaw(name)
                .await
                .map_err(|e| OpError::failed("thawing", e))?;
        }
        taken.map_err(|e| OpError::failed("snapshot", e))?;
        Ok(step.done())
    }

    async fn export(&mut self, app: &App, step: Pending<'_>) -> Result<Finished, OpError> {
        let (record, snap) = (&self.record, &self.snap);
        let name = &record.name;
        let step = step.begin(format!("exporting {name}")).await?;
        let storage = app.storage.driver();
        let dir = app.backups_dir().join(name.as_str());
        tokio::fs::create_dir_all(&dir)
            .await
            .map_err(|e| OpError::failed(&format!("creating {}", dir.display()), e))?;
        step.on_undo(UndoAction::DeleteBackup {
            id: self.id,
            path: self.path.clone(),
        });
        let snapshots: Vec<(String, PathBuf)> = if self.with_snapshots {
            app.store
                .list_snapshots(name)
                .map_err(|e| OpError::failed("listing snapshots", e))?
                .into_iter()
                .map(|s| {
                    let path = storage.snapshot_path(name.as_str(), &s.name);
                    (s.name, path)
                })
                .collect()
        } else {
            Vec::new()
        };
        let manifest = BackupManifest {
            snapshots: snapshots.iter().map(|(n, _)| n.clone()).collect(),
            format: berth_storage::backup::FORMAT,
            instance: name.to_string(),
            image: record.image.to_string(),
            config: serde_json::json!({ "limits": record.limits, "autostart": record.autostart }),
            created_at: Utc::now(),
        };
        let source = storage.snapshot_path(name.as_str(), snap);
        let out_path = self.path.clone();
        let stats = step
            .cancellable(async {
                tokio::task::spawn_blocking(move || -> Result<_, HostError> {
                    use std::os::unix::fs::OpenOptionsExt;
                    let writing = |e| HostError::host(format!("writing {}", out_path.display()), e);
                    let file = std::fs::OpenOptions::new()
                        .write(true)
                        .create_new(true)
                        .mode(0o600)
                        .open(&out_path)
                        .map_err(writing)?;
                    let mut out = std::io::BufWriter::new(file);
                    let stats =
                        berth_storage::backup::export(&source, &snapshots, &manifest, &mut out)
                            .map_err(|e| HostError::host("archiving", e))?;
                    std::io::Write::flush(&mut out).map_err(writing)?;
                    Ok(stats)
                })
                .await
                .map_err(|e| OpError::failed("export task", e))?
                .map_err(|e| OpError::failed("exporting", e))
            })
            .await?;
        if let Err(e) = storage.delete_snapshot(name.as_str(), snap).await {
            tracing::warn!(instance = %name, error = %error_chain(&e), "cannot drop the backup's snapshot");
        }
        let size = tokio::fs::metadata(&self.path)
            .await
            .map(|m| m.len())
            .unwrap_or(0);
        app.store
            .insert_backup(&BackupRecord {
                id: self.id,
                instance: name.clone(),
                created_at: Utc::now(),
                size,
                path: self.path.display().to_string(),
            })
            .map_err(|e| OpError::failed("recording the backup", e))?;
        tracing::info!(instance = %name, backup = %self.id, size, entries = stats.entries, operation = ?step.operation(), "backup made");
        Ok(step.done())
    }

    async fn prune(&mut self, app: &App, step: Pending<'_>) -> Result<Finished, OpError> {
        let keep = app.config.backups.keep;
        let step = step.begin(format!("keeping the newest {keep}")).await?;
        let backups = app
            .store
            .list_backups(&self.record.name)
            .map_err(|e| OpError::failed("listing", e))?;
        let excess = backups.len().saturating_sub(keep as usize);
        for old in backups.iter().take(excess) {
            app.remove_backup(old)
                .await
                .map_err(|e| OpError::failed("pruning", e))?;
        }
        Ok(step.done())
    }
}
