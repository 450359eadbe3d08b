//! Creating an instance: the request checked (bad input changes nothing), the quota held, and
//! the create operation started (its steps are in `provision`).

use std::sync::Arc;

use berth_guestfs::guest::GuestSystem;
use berth_runtime::{Placement, RootfsSource, Runtime};
use berth_store::InstanceRecord;
use berth_types::api::CreateInstanceRequest;
use berth_types::wireguard::WgQuickConfig;
use berth_types::{
    Arch, BackendName, FieldError, ImageRef, InstanceImage, InstanceName, InstanceState, Operation,
    OperationKind, ServerImage,
};
use chrono::Utc;
use uuid::Uuid;

use super::provision::Create;
use crate::app::access::{self, Want};
use crate::app::operation::OpError;
use crate::app::undo::UndoAction;
use crate::app::{App, AppError, OperationSpec, Principal};

impl App {
    /// Validates `request` (nothing is changed when it is bad) and starts the create operation.
    /// Returns it with the generated root password, if one was asked for (shown once).
    pub async fn create_instance(
        self: &Arc<Self>,
        caller: &Principal,
        mut request: CreateInstanceRequest,
    ) -> Result<(Operation, Option<String>), AppError> {
        access::own(caller, Want::Write)?;
        let name = match &request.name {
            Some(raw) => InstanceName::parse(raw)?,
            None => self.unused_name()?,
        };
        self.apply_defaults(&mut request);
        let raw_image = request.image.as_deref().unwrap_or_default();
        let image = match self.server_image(raw_image)? {
            Some((remote, alias)) => InstanceImage::Server(ServerImage {
                remote: remote.name,
                alias,
            }),
            None => InstanceImage::Catalog(ImageRef::parse(raw_image)?),
        };
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
        let asked = request
            .backend
            .as_deref()
            .map(|raw| BackendName::parse_field(raw, "backend"))
            .transpose()?;
        let backend = self.backends.route(&name, asked.as_ref());
        let runtime = self
            .backends
            .choose_runtime(&name, &backend, request.runtime.as_deref())?;
        let capabilities = self.runtime(&backend)?.capabilities();
        let arch = self.arch_for_guest(request.arch.as_deref(), capabilities.placement)?;
        self.check_capacity(&request.limits, &backend).await?;
        if image.catalog().is_none() && capabilities.rootfs != RootfsSource::Local {
            return Err(FieldError::new(
                "image",
                format!(
                    "backend {backend} makes its guests from its own templates; an image \
                     server's image ({image}) runs on a backend whose root filesystems Berth \
                     makes (builtin, nspawn, oci, lxc)"
                ),
            )
            .into());
        }
        let node = request.node.clone();
        if node.is_some() && capabilities.placement != Placement::Remote {
            return Err(FieldError::new(
                "node",
                format!(
                    "backend {backend} runs on this host; node applies only to backends on a \
                     cluster (proxmox)"
                ),
            )
            .into());
        }
        self.ensure_writable(&backend).await?;
        if request.limits.disk.is_some() && capabilities.rootfs == RootfsSource::Local {
            self.storage.disk_limit_supported("limits.disk")?;
        }
        let privileged = request.privileged.unwrap_or(false);
        if privileged {
            access::privileged(caller, "privileged")?;
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
            runtime,
            image,
            state: InstanceState::Creating,
            autostart: request.autostart.unwrap_or(false),
            limits: request.limits,
            node: "local".into(),
            rootfs: None,
            created_at: Utc::now(),
            privileged,
            nesting: request.nesting.unwrap_or(false),
        };
        let start = request.start.unwrap_or(true);
        self.check_host_room(&record, true, start)?;
        let params = serde_json::to_value(&request).unwrap_or_default();
        // Checked and held now, atomically, so concurrent creates cannot pass the quota
        // together; the operation's undo gives it back.
        self.reserve_instance(&record.owner, record.id, &record.limits)?;
        let spec = OperationSpec::on_instance(OperationKind::InstanceCreate, &name, &record.owner)
            .request(params)
            .undo(UndoAction::ReleaseQuota {
                owner: record.owner.clone(),
                target: crate::app::quota::instance_target(record.id),
            });
        let image = record.image.clone();
        let create = Create::new(record, (image, arch), start, credentials, wireguard, node);
        let operation = self.spawn_saga(spec, create)?;
        Ok((operation, generated))
    }

    /// The guest's architecture. A guest on this host: the one asked for if this host can run
    /// it, else the host's. A guest on a cluster: the one asked for, if any — its node runs
    /// it, so this host's emulation does not matter (an unknown name is still a 400).
    fn arch_for_guest(
        &self,
        raw: Option<&str>,
        placement: Placement,
    ) -> Result<Option<Arch>, FieldError> {
        match placement {
            Placement::Host => self.images.arch_for(raw).map(Some),
            Placement::Remote => raw
                .filter(|r| !r.is_empty())
                .map(|r| Arch::parse_field(r, "arch"))
                .transpose(),
        }
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

    /// Makes a new rootfs this instance's own: hostname, machine id, network files written
    /// the way the guest reads them. Returns what system the guest holds.
    pub(crate) async fn give_identity(
        &self,
        rootfs: &std::path::Path,
        name: &InstanceName,
        address: Option<&berth_store::AddressRecord>,
    ) -> Result<GuestSystem, OpError> {
        self.storage
            .customise(rootfs, name)
            .await
            .map_err(|e| OpError::failed("configuring the rootfs", e))?;
        if let Some(address) = address {
            return self
                .write_guest_network(rootfs, address)
                .await
                .map_err(|e| OpError::failed("writing the guest network", e));
        }
        let target = rootfs.to_owned();
        tokio::task::spawn_blocking(move || {
            berth_guestfs::Rootfs::open(&target).map(|root| berth_guestfs::guest::detect(&root))
        })
        .await
        .map_err(|e| OpError::failed("guest detection task", e))?
        .map_err(|e| OpError::failed("reading the guest's system", e))
    }
}
