//! Importing a backup as a new instance: the upload is saved first (bounded), its manifest
//! read to name and check the instance, then an operation unpacks it — hardened, into a
//! fresh rootfs — gives it its own identity (hostname, machine id, addresses) and leaves it
//! stopped. Any failure removes everything, including the upload.

use std::io::Read;
use std::path::PathBuf;
use std::sync::Arc;

use berth_image::backup::{ImportLimits, verify};
use berth_store::InstanceRecord;
use berth_types::{FieldError, InstanceName, InstanceState, Limits, Operation, OperationKind};
use chrono::Utc;
use uuid::Uuid;

use crate::app::error::error_chain;
use crate::app::network::takes_address;
use crate::app::operation::{OpError, OpHandle};
use crate::app::undo::UndoAction;
use crate::app::{App, AppError, Principal};

pub const IMPORT_STEPS: &[&str] = &["reserve", "unpack", "configure"];

/// Most entries one archive may have.
const MAX_ENTRIES: u64 = 5_000_000;

impl App {
    /// `POST /instances` with an archive body: saves it, checks it, starts the import.
    pub async fn import_instance(
        self: &Arc<Self>,
        caller: &Principal,
        name: Option<&str>,
        body: Box<dyn Read + Send>,
    ) -> Result<Operation, AppError> {
        let max =
            berth_types::units::parse_bytes(&self.config.backups.max_import, "backups.max_import")?;
        let incoming = self
            .backups_dir()
            .join(format!(".incoming-{}.tar.zst", Uuid::new_v4().simple()));
        let saved = incoming.clone();
        let dir = self.backups_dir();
        let manifest = tokio::task::spawn_blocking(move || -> Result<_, AppError> {
            use std::os::unix::fs::OpenOptionsExt;
            std::fs::create_dir_all(&dir).map_err(|e| AppError::internal("backups dir", e))?;
            let mut file = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&saved)
                .map_err(|e| AppError::internal("saving the upload", e))?;
            let copied = std::io::copy(&mut body.take(max + 1), &mut file);
            let too_big = matches!(copied, Ok(n) if n > max);
            if copied.is_err() || too_big {
                let _ = std::fs::remove_file(&saved);
                return Err(FieldError::new(
                    "body",
                    if too_big {
                        format!("the archive is larger than {max} bytes")
                    } else {
                        "the upload broke off".into()
                    },
                )
                .into());
            }
            let file = std::fs::File::open(&saved)
                .map_err(|e| AppError::internal("reading the upload", e))?;
            // The whole archive is checked now, so a bad one is a 400 before anything exists.
            let limits = ImportLimits {
                max_bytes: max,
                max_entries: MAX_ENTRIES,
            };
            verify(std::io::BufReader::new(file), limits).map_err(|e| {
                let _ = std::fs::remove_file(&saved);
                AppError::Invalid(FieldError::new("body", error_chain(&e)))
            })
        })
        .await
        .map_err(|e| AppError::internal("upload task", e))??;
        let name = match name {
            Some(raw) => InstanceName::parse(raw),
            None => InstanceName::parse(&manifest.instance),
        };
        let name = match name {
            Ok(name) if self.store.get_instance(&name)?.is_none() => name,
            Ok(name) => {
                let _ = std::fs::remove_file(&incoming);
                return Err(AppError::Conflict(format!(
                    "instance {name} already exists; import with ?name=OTHER"
                )));
            }
            Err(e) => {
                let _ = std::fs::remove_file(&incoming);
                return Err(e.into());
            }
        };
        let limits: Limits =
            serde_json::from_value(manifest.config["limits"].clone()).unwrap_or_default();
        // An archive's limits are input like any other.
        if let Err(e) = self.check_capacity(&limits, "builtin").await {
            let _ = std::fs::remove_file(&incoming);
            return Err(e);
        }
        let record = InstanceRecord {
            id: Uuid::new_v4(),
            name: name.clone(),
            owner: caller.username.clone(),
            backend: "builtin".into(),
            image: manifest.image.clone(),
            state: InstanceState::Creating,
            autostart: false,
            limits,
            node: "local".into(),
            rootfs: None,
            created_at: Utc::now(),
        };
        let params = serde_json::json!({ "from": manifest.instance, "name": name.as_str() });
        // The instance and the snapshots it brings count against the owner's quota.
        let target = crate::app::quota::instance_target(record.id);
        let reserved = self
            .reserve_instance(&record.owner, record.id, &record.limits)
            .and_then(|()| {
                manifest
                    .snapshots
                    .iter()
                    .try_for_each(|snap| self.reserve_snapshot(&record.owner, record.id, snap))
            });
        if let Err(e) = reserved {
            self.release_quota(&record.owner, &target);
            let _ = std::fs::remove_file(&incoming);
            return Err(e);
        }
        let quota = UndoAction::ReleaseQuota {
            owner: record.owner.clone(),
            target: target.clone(),
        };
        let owner = record.owner.clone();
        let operation = self.spawn_operation(
            &owner,
            OperationKind::InstanceImport,
            name.as_str(),
            Some(&name),
            IMPORT_STEPS,
            params,
            move |app, op| async move {
                op.on_undo(quota);
                app.run_import(&op, record, incoming, manifest.snapshots)
                    .await
            },
        );
        if operation.is_err() {
            self.release_quota(&owner, &target);
        }
        operation
    }

    async fn run_import(
        &self,
        op: &OpHandle,
        mut record: InstanceRecord,
        incoming: PathBuf,
        snapshot_names: Vec<String>,
    ) -> Result<(), OpError> {
        let name = record.name.clone();
        op.on_undo(UndoAction::RemoveFile {
            path: incoming.clone(),
        });
        op.step(0, format!("reserving {name}")).await?;
        self.store
            .insert_instance(&record)
            .map_err(|e| OpError::failed("reserving the name", e))?;
        op.on_undo(UndoAction::DeleteRecord { name: name.clone() });
        op.on_undo(UndoAction::RemoveStateDir { name: name.clone() });
        let dir = self.instance_dir(&name);
        tokio::fs::create_dir_all(&dir)
            .await
            .map_err(|e| OpError::failed(&format!("creating {}", dir.display()), e))?;
        let address = if takes_address(&record.backend) {
            Some(
                self.allocate_addresses(&record)
                    .map_err(|e| OpError::failed("reserving addresses", e))?,
            )
        } else {
            None
        };

        op.step(1, format!("unpacking into {name}")).await?;
        op.on_undo(UndoAction::DestroyRootfs { name: name.clone() });
        let rootfs = self
            .images
            .storage()
            .create_empty(name.as_str())
            .await
            .map_err(|e| OpError::failed("making the rootfs", error_chain(&e)))?;
        let limits = ImportLimits {
            max_bytes: berth_types::units::parse_bytes(
                &self.config.backups.max_import,
                "backups.max_import",
            )
            .map_err(|e| OpError::failed("limits", e))?,
            max_entries: MAX_ENTRIES,
        };
        // Each snapshot in the backup becomes one again (storage made first, rows after).
        let mut snapshot_targets = std::collections::BTreeMap::new();
        for snap in &snapshot_names {
            let snap = berth_types::InstanceName::parse_field(snap, "snapshots")
                .map_err(|e| OpError::Failed(e.to_string()))?
                .to_string();
            let path = self
                .images
                .storage()
                .create_empty_snapshot(name.as_str(), &snap)
                .await
                .map_err(|e| OpError::failed("making a snapshot", error_chain(&e)))?;
            snapshot_targets.insert(snap, path);
        }
        let (source, target) = (incoming.clone(), rootfs.clone());
        op.cancellable(async {
            tokio::task::spawn_blocking(move || -> Result<(), String> {
                let file = std::fs::File::open(&source).map_err(|e| e.to_string())?;
                berth_image::backup::import(
                    std::io::BufReader::new(file),
                    &target,
                    &snapshot_targets,
                    limits,
                )
                .map(drop)
                .map_err(|e| error_chain(&e))
            })
            .await
            .map_err(|e| OpError::failed("unpack task", e))?
            .map_err(|e| OpError::Failed(format!("unpacking: {e}")))
        })
        .await?;
        for snap in &snapshot_names {
            let storage = self.images.storage();
            storage
                .seal_snapshot(name.as_str(), snap)
                .await
                .map_err(|e| OpError::failed("sealing a snapshot", error_chain(&e)))?;
            let snapshot = berth_types::snapshot::Snapshot {
                name: snap.clone(),
                created_at: Utc::now(),
                size: storage.snapshot_size(name.as_str(), snap).await.ok(),
                scheduled: false,
                expires_at: None,
            };
            self.store
                .insert_snapshot(&name, &snapshot)
                .map_err(|e| OpError::failed("recording a snapshot", e))?;
        }
        if let Some(disk) = record.limits.disk {
            self.images
                .set_disk_limit(&name, disk)
                .await
                .map_err(|e| OpError::failed("disk limit", e))?;
        }

        op.step(
            2,
            format!("configuring {name}: hostname, machine id, network"),
        )
        .await?;
        self.give_identity(&rootfs, &name, address.as_ref()).await?;
        record.rootfs = Some(rootfs);
        record.state = InstanceState::Stopped;
        self.store
            .update_instance(&record)
            .map_err(|e| OpError::failed("saving the instance", e))?;
        let _ = tokio::fs::remove_file(&incoming).await;
        tracing::info!(instance = %name, operation = %op.id(), "imported");
        Ok(())
    }
}
