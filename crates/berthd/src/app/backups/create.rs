//! Making a backup: freeze a running guest for a snapshot (milliseconds on btrfs), export the
//! snapshot while the guest runs on, drop the snapshot, keep the newest `[backups] keep`.

use std::sync::Arc;

use berth_runtime::Runtime;
use berth_storage::backup::BackupManifest;
use berth_store::{BackupRecord, InstanceRecord};
use berth_types::api::CreateBackupRequest;
use berth_types::{InstanceState, Operation, OperationKind};
use chrono::Utc;
use uuid::Uuid;

use crate::app::error::error_chain;
use crate::app::operation::{OpError, OpHandle};
use crate::app::undo::UndoAction;
use crate::app::{App, AppError};

pub const BACKUP_STEPS: &[&str] = &["snapshot", "export", "prune"];

impl App {
    /// `POST /instances/{name}/backups`.
    pub fn create_backup(
        self: &Arc<Self>,
        name: &str,
        request: CreateBackupRequest,
    ) -> Result<Operation, AppError> {
        let record = self.instance_record(name)?;
        if !Self::uses_local_rootfs(&record.backend) {
            return Err(AppError::Conflict(format!(
                "instance {name} has no local root filesystem (backend {}) to back up",
                record.backend
            )));
        }
        let target = record.name.clone();
        self.spawn_operation(
            &record.owner.clone(),
            OperationKind::InstanceBackup,
            name,
            Some(&target),
            BACKUP_STEPS,
            serde_json::json!({ "snapshots": request.snapshots }),
            move |app, op| async move { app.run_backup(&op, record, request.snapshots).await },
        )
    }

    async fn run_backup(
        &self,
        op: &OpHandle,
        record: InstanceRecord,
        with_snapshots: bool,
    ) -> Result<(), OpError> {
        let name = record.name.clone();
        let id = Uuid::new_v4();
        let snap = format!("backup-{}", &id.simple().to_string()[..12]);
        op.step(0, format!("snapshot of {name} for the backup"))
            .await?;
        let storage = self.storage.driver();
        op.on_undo(UndoAction::DeleteSnapshot {
            name: name.clone(),
            snapshot: snap.clone(),
        });
        let runtime = self
            .runtime(&record.backend)
            .map_err(|e| OpError::failed("backend", e))?;
        let freeze = self.observed_state(&record).await == InstanceState::Running;
        if freeze {
            op.on_undo(UndoAction::ThawGuest {
                name: name.clone(),
                backend: record.backend.clone(),
            });
            runtime
                .freeze(&name)
                .await
                .map_err(|e| OpError::failed("freezing", error_chain(&e)))?;
        }
        let taken = storage.create_snapshot(name.as_str(), &snap).await;
        if freeze {
            runtime
                .thaw(&name)
                .await
                .map_err(|e| OpError::failed("thawing", error_chain(&e)))?;
        }
        taken.map_err(|e| OpError::failed("snapshot", error_chain(&e)))?;

        op.step(1, format!("exporting {name}")).await?;
        let dir = self.backups_dir().join(name.as_str());
        tokio::fs::create_dir_all(&dir)
            .await
            .map_err(|e| OpError::failed(&format!("creating {}", dir.display()), e))?;
        let path = dir.join(format!("{id}.tar.zst"));
        op.on_undo(UndoAction::RemoveFile { path: path.clone() });
        // Each snapshot is read through a view (a read-only mount on volume), kept until the
        // export is done and released even if it is cancelled.
        let mut views = Vec::new();
        if with_snapshots {
            let listed = self
                .store
                .list_snapshots(&name)
                .map_err(|e| OpError::failed("listing snapshots", e))?;
            for s in listed {
                let view = storage
                    .snapshot_view(name.as_str(), &s.name)
                    .await
                    .map_err(|e| OpError::failed("reading a snapshot", error_chain(&e)))?;
                views.push((s.name, view));
            }
        }
        let snapshots: Vec<(String, std::path::PathBuf)> = views
            .iter()
            .map(|(n, v)| (n.clone(), v.path().to_owned()))
            .collect();
        let manifest = BackupManifest {
            snapshots: snapshots.iter().map(|(n, _)| n.clone()).collect(),
            format: berth_storage::backup::FORMAT,
            instance: name.to_string(),
            image: record.image.clone(),
            config: serde_json::json!({ "limits": record.limits, "autostart": record.autostart }),
            created_at: Utc::now(),
        };
        let source_view = storage
            .snapshot_view(name.as_str(), &snap)
            .await
            .map_err(|e| OpError::failed("reading the snapshot", error_chain(&e)))?;
        let source = source_view.path().to_owned();
        let out_path = path.clone();
        let stats = op
            .cancellable(async {
                tokio::task::spawn_blocking(move || -> Result<_, String> {
                    use std::os::unix::fs::OpenOptionsExt;
                    let file = std::fs::OpenOptions::new()
                        .write(true)
                        .create_new(true)
                        .mode(0o600)
                        .open(&out_path)
                        .map_err(|e| e.to_string())?;
                    let mut out = std::io::BufWriter::new(file);
                    let stats =
                        berth_storage::backup::export(&source, &snapshots, &manifest, &mut out)
                            .map_err(|e| error_chain(&e))?;
                    std::io::Write::flush(&mut out).map_err(|e| e.to_string())?;
                    Ok(stats)
                })
                .await
                .map_err(|e| OpError::failed("export task", e))?
                .map_err(|e| OpError::Failed(format!("exporting: {e}")))
            })
            .await?;
        drop((source_view, views));
        self.remove_snapshot_files(&name, &snap).await;
        let size = tokio::fs::metadata(&path)
            .await
            .map(|m| m.len())
            .unwrap_or(0);
        self.store
            .insert_backup(&BackupRecord {
                id,
                instance: name.clone(),
                created_at: Utc::now(),
                size,
                path: path.display().to_string(),
            })
            .map_err(|e| OpError::failed("recording the backup", e))?;
        tracing::info!(instance = %name, backup = %id, size, entries = stats.entries, "backup made");

        op.step(
            2,
            format!("keeping the newest {}", self.config.backups.keep),
        )
        .await?;
        let backups = self
            .store
            .list_backups(&name)
            .map_err(|e| OpError::failed("listing", e))?;
        let excess = backups
            .len()
            .saturating_sub(self.config.backups.keep as usize);
        for old in backups.iter().take(excess) {
            self.remove_backup(old)
                .await
                .map_err(|e| OpError::failed("pruning", e))?;
        }
        Ok(())
    }

    async fn remove_snapshot_files(&self, name: &berth_types::InstanceName, snap: &str) {
        if let Err(e) = self
            .storage
            .driver()
            .delete_snapshot(name.as_str(), snap)
            .await
        {
            tracing::warn!(instance = %name, error = %error_chain(&e), "cannot drop the backup's snapshot");
        }
    }
}
