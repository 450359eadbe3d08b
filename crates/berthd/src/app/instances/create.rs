//! Creating an instance: reserve the name, make sure the image is built, clone it, configure
//! the clone, start it. Every step registers its undo first.

use std::sync::Arc;

use berth_store::InstanceRecord;
use berth_types::api::CreateInstanceRequest;
use berth_types::wireguard::WgQuickConfig;
use berth_types::{FieldError, ImageRef, InstanceName, InstanceState, Operation, OperationKind};
use chrono::Utc;
use uuid::Uuid;

use crate::app::error::error_chain;
use crate::app::network::takes_address;
use crate::app::operation::{OpError, OpHandle};
use crate::app::undo::UndoAction;
use crate::app::{App, AppError, Principal};

pub const CREATE_STEPS: &[&str] = &["reserve", "image", "clone", "configure", "start"];

impl App {
    /// Validates `request` (nothing is changed when it is bad) and starts the create operation.
    /// Returns it with the generated root password, if one was asked for (shown once).
    pub async fn create_instance(
        self: &Arc<Self>,
        caller: &Principal,
        mut request: CreateInstanceRequest,
    ) -> Result<(Operation, Option<String>), AppError> {
        let name = match &request.name {
            Some(raw) => InstanceName::parse(raw)?,
            None => self.unused_name()?,
        };
        self.apply_defaults(&mut request);
        let image = ImageRef::parse(request.image.as_deref().unwrap_or_default())?;
        request.limits.validate()?;
        let (credentials, generated) = Self::credentials_for_create(&request)?;
        let wireguard = request
            .wireguard
            .as_deref()
            .map(|text| WgQuickConfig::parse(text, "wireguard"))
            .transpose()?;
        // The operation keeps its request for recovery: never with a secret in it.
        if request.password.is_some() {
            request.password = Some("<redacted>".into());
        }
        if request.wireguard.is_some() {
            request.wireguard = Some("<redacted>".into());
        }
        let backend = self
            .config
            .route_backend(name.as_str(), request.backend.as_deref());
        self.runtime(&backend)?;
        self.check_capacity(&request.limits, &backend).await?;
        let node = request.node.clone();
        if node.is_some() && self.remote(&backend).is_none() {
            return Err(FieldError::new(
                "node",
                format!("backend {backend} runs on this host; node applies to proxmox only"),
            )
            .into());
        }
        self.ensure_writable(&backend).await?;
        if request.limits.disk.is_some() && Self::uses_local_rootfs(&backend) {
            self.images
                .disk_limit_supported()
                .map_err(|why| FieldError::new("limits.disk", why))?;
        }
        let owner = crate::app::auth::owner_for_create(self, caller, request.owner.as_deref())?;
        if self.store.get_instance(&name)?.is_some() {
            return Err(AppError::Conflict(format!(
                "instance {name} already exists; choose another name"
            )));
        }
        let record = InstanceRecord {
            id: Uuid::new_v4(),
            name: name.clone(),
            owner,
            backend,
            image: image.to_string(),
            state: InstanceState::Creating,
            autostart: request.autostart.unwrap_or(false),
            limits: request.limits,
            node: "local".into(),
            rootfs: None,
            created_at: Utc::now(),
        };
        let start = request.start.unwrap_or(true);
        let params = serde_json::to_value(&request).unwrap_or_default();
        // Checked and held now, atomically, so concurrent creates cannot pass the quota
        // together; the operation's undo gives it back.
        self.reserve_instance(&record.owner, record.id, &record.limits)?;
        let quota = UndoAction::ReleaseQuota {
            owner: record.owner.clone(),
            target: crate::app::quota::instance_target(record.id),
        };
        let release = quota.clone();
        let operation = self.spawn_operation(
            &record.owner.clone(),
            OperationKind::InstanceCreate,
            name.as_str(),
            Some(&name),
            CREATE_STEPS,
            params,
            move |app, op| async move {
                op.on_undo(quota);
                app.run_create(&op, record, image, start, credentials, wireguard, node)
                    .await
            },
        );
        let operation = match operation {
            Ok(operation) => operation,
            Err(e) => {
                if let UndoAction::ReleaseQuota { owner, target } = &release {
                    self.release_quota(owner, target);
                }
                return Err(e);
            }
        };
        Ok((operation, generated))
    }

    fn unused_name(&self) -> Result<InstanceName, AppError> {
        for _ in 0..20 {
            let name = InstanceName::generate();
            if self.store.get_instance(&name)?.is_none() {
                return Ok(name);
            }
        }
        Err(AppError::Conflict(
            "could not find an unused name; give one".into(),
        ))
    }

    #[allow(
        clippy::too_many_arguments,
        reason = "the validated parts of one create request"
    )]
    async fn run_create(
        &self,
        op: &OpHandle,
        mut record: InstanceRecord,
        image: ImageRef,
        start: bool,
        credentials: super::password::RootCredentials,
        wireguard: Option<WgQuickConfig>,
        node: Option<String>,
    ) -> Result<(), OpError> {
        let name = record.name.clone();
        op.step(0, format!("reserving {name}")).await?;
        self.store
            .insert_instance(&record)
            .map_err(|e| OpError::failed("reserving the name", e))?;
        // Addresses go with the row (ON DELETE CASCADE), so DeleteRecord undoes both.
        op.on_undo(UndoAction::DeleteRecord { name: name.clone() });
        let address = if takes_address(&record.backend) {
            Some(
                self.allocate_addresses(&record)
                    .map_err(|e| OpError::failed("reserving addresses", e))?,
            )
        } else {
            None
        };
        op.on_undo(UndoAction::RemoveStateDir { name: name.clone() });
        let dir = self.instance_dir(&name);
        tokio::fs::create_dir_all(&dir)
            .await
            .map_err(|e| OpError::failed(&format!("creating {}", dir.display()), e))?;

        if Self::uses_local_rootfs(&record.backend) {
            op.step(1, format!("image {image}: checking the cache"))
                .await?;
            let cached = op.cancellable(self.images.ensure(image, op)).await?;
            op.step(2, format!("cloning {image} for {name}")).await?;
            op.on_undo(UndoAction::DestroyRootfs { name: name.clone() });
            let rootfs = self
                .images
                .clone_for(&cached, &name, record.limits.disk)
                .await
                .map_err(|e| OpError::failed("cloning the image", e))?;
            op.step(
                3,
                format!("configuring {name}: hostname, machine id, root login"),
            )
            .await?;
            self.give_identity(&rootfs, &name, address.as_ref()).await?;
            let target = rootfs.clone();
            tokio::task::spawn_blocking(move || Self::write_credentials(&target, &credentials))
                .await
                .map_err(|e| OpError::failed("credentials task", e))?
                .map_err(|e| OpError::failed("writing root credentials", e))?;
            // (Whether the sshd policy changed does not matter: the guest has not booted yet.)
            if let Some(config) = wireguard {
                let target = rootfs.clone();
                tokio::task::spawn_blocking(move || -> Result<(), String> {
                    let root =
                        berth_image::rootfs::Rootfs::open(&target).map_err(|e| error_chain(&e))?;
                    berth_image::customise::install_wireguard(&root, config.text())
                        .map_err(|e| error_chain(&e))
                })
                .await
                .map_err(|e| OpError::failed("wireguard task", e))?
                .map_err(|e| OpError::Failed(format!("writing the WireGuard config: {e}")))?;
            }
            record.rootfs = Some(rootfs);
        } else if crate::app::remote::is_remote(&record.backend) {
            self.create_remote(op, &mut record, &image, &credentials, node)
                .await?;
        } else {
            let why = format!("backend {} keeps its own root filesystem", record.backend);
            for index in 1..=3 {
                op.skip(index, why.clone());
            }
        }
        record.state = InstanceState::Stopped;
        if !start {
            op.skip(4, "created stopped, as asked");
        } else {
            op.step(4, format!("starting {name}")).await?;
            op.on_undo(UndoAction::DetachNetwork { name: name.clone() });
            op.on_undo(UndoAction::RemoveContainer {
                name: name.clone(),
                backend: record.backend.clone(),
            });
            self.boot(&record)
                .await
                .map_err(|e| OpError::Failed(format!("starting {name}: {e}")))?;
            record.state = InstanceState::Running;
        }
        self.store
            .update_instance(&record)
            .map_err(|e| OpError::failed("saving the instance", e))?;
        tracing::info!(instance = %name, operation = %op.id(), state = record.state.as_str(), "created");
        Ok(())
    }

    /// Makes a new rootfs this instance's own: hostname, machine id, network files.
    pub(crate) async fn give_identity(
        &self,
        rootfs: &std::path::Path,
        name: &InstanceName,
        address: Option<&berth_store::AddressRecord>,
    ) -> Result<(), OpError> {
        self.images
            .customise(rootfs, name)
            .await
            .map_err(|e| OpError::failed("configuring the rootfs", e))?;
        if let Some(address) = address {
            self.write_guest_network(rootfs, address)
                .await
                .map_err(|e| OpError::Failed(format!("writing the guest network: {e}")))?;
        }
        Ok(())
    }
}
