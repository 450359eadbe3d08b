//! Importing a backup as a new instance: the upload is saved first (bounded), its manifest
//! read to name and check the instance, then an operation unpacks it — hardened, into a
//! fresh rootfs — gives it its own identity (hostname, machine id, addresses) and leaves it
//! stopped. Any failure removes everything, including the upload.

use std::io::Read;
use std::path::PathBuf;
use std::sync::Arc;

use berth_storage::backup::{ImportLimits, verify};
use berth_store::{AddressRecord, InstanceRecord};
use berth_types::{
    FieldError, InstanceImage, InstanceName, InstanceState, Limits, Operation, OperationKind,
};
use chrono::Utc;
use uuid::Uuid;

use crate::app::access::{self, Want};
use crate::app::error::{HostError, error_chain};
use crate::app::operation::OpError;
use crate::app::steps::{Finished, Pending, declare_steps};
use crate::app::undo::UndoAction;
use crate::app::{App, AppError, OperationSpec, Principal};

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
        access::own(caller, Want::Write)?;
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
        let image = match InstanceImage::parse_field(&manifest.image, "image") {
            Ok(image) => image,
            Err(e) => {
                let _ = std::fs::remove_file(&incoming);
                let why = format!("the archive's image {:?}: {}", manifest.image, e.message);
                return Err(FieldError::new("body", why).into());
            }
        };
        let limits: Limits =
            serde_json::from_value(manifest.config["limits"].clone()).unwrap_or_default();
        // An archive's limits are input like any other.
        let backend = self.backends.route_import(&name);
        // The routed runtime tool, if the backend offers one; else its default at each start.
        let runtime = self
            .backends
            .choose_runtime(&name, &backend, None)
            .ok()
            .flatten();
        if let Err(e) = self.check_capacity(&limits, &backend).await {
            let _ = std::fs::remove_file(&incoming);
            return Err(e);
        }
        let record = InstanceRecord {
            id: Uuid::new_v4(),
            name: name.clone(),
            owner: caller.username.clone(),
            backend,
            runtime,
            image,
            state: InstanceState::Creating,
            autostart: false,
            limits,
            node: "local".into(),
            rootfs: None,
            created_at: Utc::now(),
            // Archives carry guest ids: an import is unprivileged, with its own range (taken
            // at its first start); an admin may make it privileged afterwards.
            privileged: false,
            nesting: false,
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
        let spec = OperationSpec::on_instance(OperationKind::InstanceImport, &name, &record.owner)
            .request(params)
            .undo(UndoAction::ReleaseQuota {
                owner: record.owner.clone(),
                target,
            })
            .undo(UndoAction::RemoveFile {
                path: incoming.clone(),
            });
        let import = Import {
            record,
            incoming,
            snapshots: manifest.snapshots,
            address: None,
        };
        self.spawn_saga(spec, import)
    }
}

/// `instance_import`: the new instance, the saved upload and the snapshots it brings.
pub(crate) struct Import {
    record: InstanceRecord,
    /// The upload, saved and verified whole before the operation began.
    incoming: PathBuf,
    snapshots: Vec<String>,
    address: Option<AddressRecord>,
}

declare_steps! {
    /// The steps of `instance_import`. (The quota and the saved upload were taken before it
    /// began; their undo is registered under its first step.)
    pub enum ImportStep for Import {
        /// Insert the row (`creating`), take addresses, make the instance's directory.
        Reserve = "reserve" => reserve, undo [ReleaseQuota, RemoveFile, DeleteRecord, RemoveStateDir];
        /// Unpack the archive, hardened, into a fresh root filesystem and its snapshots.
        Unpack = "unpack" => unpack, undo [DestroyRootfs];
        /// Hostname, machine id, network files; saved, stopped; the upload removed.
        Configure = "configure" => configure, undo [];
    }
}

impl Import {
    async fn reserve(&mut self, app: &App, step: Pending<'_>) -> Result<Finished, OpError> {
        let name = self.record.name.clone();
        let step = step.begin(format!("reserving {name}")).await?;
        app.store
            .insert_instance(&self.record)
            .map_err(|e| OpError::failed("reserving the name", e))?;
        step.on_undo(UndoAction::DeleteRecord { name: name.clone() });
        step.on_undo(UndoAction::RemoveStateDir { name: name.clone() });
        let dir = app.instance_dir(&name);
        tokio::fs::create_dir_all(&dir)
            .await
            .map_err(|e| OpError::failed(&format!("creating {}", dir.display()), e))?;
        if app
            .capabilities(&self.record.backend)
            .network
            .takes_address()
        {
            let address = app
                .allocate_addresses(&self.record)
                .map_err(|e| OpError::failed("reserving addresses", e))?;
            self.address = Some(address);
        }
        Ok(step.done())
    }

    async fn unpack(&mut self, app: &App, step: Pending<'_>) -> Result<Finished, OpError> {
        let name = self.record.name.clone();
        let step = step.begin(format!("unpacking into {name}")).await?;
        step.on_undo(UndoAction::DestroyRootfs { name: name.clone() });
        let rootfs = app
            .storage
            .driver()
            .create_empty_sized(name.as_str(), self.record.limits.disk)
            .await
            .map_err(|e| OpError::failed("making the rootfs", e))?;
        let limits = ImportLimits {
            max_bytes: berth_types::units::parse_bytes(
                &app.config.backups.max_import,
                "backups.max_import",
            )
            .map_err(|e| OpError::failed("limits", e))?,
            max_entries: MAX_ENTRIES,
        };
        // Each snapshot in the backup becomes one again (storage made first, rows after).
        let storage = app.storage.driver();
        let mut snapshot_targets = std::collections::BTreeMap::new();
        for snap in &self.snapshots {
            let snap = berth_types::InstanceName::parse_field(snap, "snapshots")
                .map_err(|e| OpError::Failed(e.to_string()))?
                .to_string();
            let path = storage
                .create_empty_snapshot(name.as_str(), &snap)
                .await
                .map_err(|e| OpError::failed("making a snapshot", e))?;
            snapshot_targets.insert(snap, path);
        }
        let (source, target) = (self.incoming.clone(), rootfs.clone());
        step.cancellable(async {
            tokio::task::spawn_blocking(move || -> Result<(), HostError> {
                let file = std::fs::File::open(&source)
                    .map_err(|e| HostError::host(format!("reading {}", source.display()), e))?;
                berth_storage::backup::import(
                    std::io::BufReader::new(file),
                    &target,
                    &snapshot_targets,
                    limits,
                )
                .map(drop)
                .map_err(|e| HostError::host("the archive", e))
            })
            .await
            .map_err(|e| OpError::failed("unpack task", e))?
            .map_err(|e| OpError::failed("unpacking", e))
        })
        .await?;
        for snap in &self.snapshots {
            storage
                .seal_snapshot(name.as_str(), snap)
                .await
                .map_err(|e| OpError::failed("sealing a snapshot", e))?;
            let snapshot = berth_types::snapshot::Snapshot {
                name: snap.clone(),
                created_at: Utc::now(),
                size: storage.snapshot_size(name.as_str(), snap).await.ok(),
                scheduled: false,
                expires_at: None,
            };
            app.store
                .insert_snapshot(&name, &snapshot)
                .map_err(|e| OpError::failed("recording a snapshot", e))?;
        }
        if let Some(disk) = self.record.limits.disk {
            app.storage
                .set_disk_limit(&name, disk)
                .await
                .map_err(|e| OpError::failed("disk limit", e))?;
        }
        self.record.rootfs = Some(rootfs);
        Ok(step.done())
    }

    async fn configure(&mut self, app: &App, step: Pending<'_>) -> Result<Finished, OpError> {
        let name = self.record.name.clone();
        let Some(rootfs) = self.record.rootfs.clone() else {
            return Err(OpError::Failed(format!("{name} has no root filesystem")));
        };
        let step = step
            .begin(format!("configuring {name}: hostname, machine id, network"))
            .await?;
        app.give_identity(&rootfs, &name, self.address.as_ref())
            .await?;
        self.record.state = InstanceState::Stopped;
        app.store
            .update_instance(&self.record)
            .map_err(|e| OpError::failed("saving the instance", e))?;
        let _ = tokio::fs::remove_file(&self.incoming).await;
        tracing::info!(instance = %name, operation = ?step.operation(), "imported");
        Ok(step.done())
    }
}
