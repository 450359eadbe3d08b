//! The create operation's steps: reserve the name and addresses, get the image, clone it,
//! configure the clone, start it. Local backends share these steps (image → clone →
//! configure on Berth's storage); a backend that makes the root filesystem itself does it in
//! the image step (`Runtime::provision`) and the clone and configure steps are skipped.

use berth_runtime::{Progress, ProvisionRequest, RootfsSource, Runtime};
use berth_storage::ImageTree;
use berth_store::{AddressRecord, InstanceRecord};
use berth_types::wireguard::WgQuickConfig;
use berth_types::{Arch, InstanceImage, InstanceState};

use super::RootCredentials;
use crate::app::App;
use crate::app::error::error_chain;
use crate::app::operation::OpError;
use crate::app::steps::{Finished, Pending, declare_steps};
use crate::app::undo::UndoAction;

/// `instance_create`: a validated create request, and what its steps made so far.
pub(crate) struct Create {
    pub record: InstanceRecord,
    /// A catalogue image (built when missing) or an image server's (fetched when missing).
    pub image: InstanceImage,
    /// The guest's architecture; another than the host's runs through qemu-user. `None` (a
    /// remote guest none was asked for): the backend's own choice.
    pub arch: Option<Arch>,
    /// Boot it once made.
    pub start: bool,
    pub credentials: RootCredentials,
    pub wireguard: Option<WgQuickConfig>,
    /// The node asked for (remote backends).
    pub node: Option<String>,
    address: Option<AddressRecord>,
    /// The cached image's tree, once there.
    cached: Option<ImageTree>,
    /// What a backend that provisions itself made: why clone and configure are skipped.
    provisioned: Option<String>,
}

declare_steps! {
    /// The steps of `instance_create`.
    pub enum CreateStep for Create {
        /// Insert the row (`creating`), take addresses, make `<data_dir>/instances/<name>`.
        /// (The quota was reserved before the operation began.)
        Reserve = "reserve" => reserve, undo [ReleaseQuota, DeleteRecord, RemoveStateDir];
        /// The cached image, built when missing; or the backend makes the guest.
        Image = "image" => image, undo [RemoveContainer];
        /// A copy-on-write clone of the image on Berth's storage.
        Clone = "clone" => clone_image, undo [DestroyRootfs];
        /// Hostname, machine id, network files, root credentials, WireGuard.
        Configure = "configure" => configure, undo [];
        /// Plug it into the bridge and boot it (unless it was created stopped).
        Start = "start" => boot, undo [DetachNetwork, RemoveContainer];
    }
}

impl Create {
    pub fn new(
        record: InstanceRecord,
        (image, arch): (InstanceImage, Option<Arch>),
        start: bool,
        credentials: RootCredentials,
        wireguard: Option<WgQuickConfig>,
        node: Option<String>,
    ) -> Self {
        Self {
            record,
            image,
            arch,
            start,
            credentials,
            wireguard,
            node,
            address: None,
            cached: None,
            provisioned: None,
        }
    }

    async fn reserve(&mut self, app: &App, step: Pending<'_>) -> Result<Finished, OpError> {
        let name = self.record.name.clone();
        let step = step.begin(format!("reserving {name}")).await?;
        app.store
            .insert_instance(&self.record)
            .map_err(|e| OpError::failed("reserving the name", e))?;
        // Registered after the insert, which fails when the name is someone else's; a crash in
        // between leaves a `creating` row, which recovery deletes. Addresses go with the row
        // (ON DELETE CASCADE), so DeleteRecord undoes both.
        step.on_undo(UndoAction::DeleteRecord { name: name.clone() });
        // The guest's host ids, held from now on; they go with the row (ON DELETE CASCADE).
        if !self.record.privileged && app.is_host_guest(&self.record) {
            app.allocate_idmap(&name)
                .map_err(|e| OpError::failed("allocating the id range", e))?;
        }
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
        step.on_undo(UndoAction::RemoveStateDir { name: name.clone() });
        let dir = app.instance_dir(&name);
        tokio::fs::create_dir_all(&dir)
            .await
            .map_err(|e| OpError::failed(&format!("creating {}", dir.display()), e))?;
        Ok(step.done())
    }

    async fn image(&mut self, app: &App, step: Pending<'_>) -> Result<Finished, OpError> {
        let image = self.image.clone();
        let runtime = app
            .runtime(&self.record.backend)
            .map_err(|e| OpError::failed("backend", e))?;
        if runtime.capabilities().rootfs == RootfsSource::Local {
            let step = step
                .begin(format!("image {image}: checking the cache"))
                .await?;
            let progress = |percent, message| step.progress(percent, message);
            let arch = self.arch.unwrap_or(app.images.arch);
            let tree = match &image {
                InstanceImage::Catalog(image) => {
                    let ensure = app.images.ensure(*image, arch, progress);
                    step.cancellable(ensure).await?.tree()
                }
                InstanceImage::Server(server) => {
                    let fetch = app.images.fetch_server(server, arch, progress);
                    step.cancellable(fetch).await?.tree()
                }
            };
            self.cached = Some(tree);
            return Ok(step.done());
        }
        // Refused at create: a backend that makes its own guests takes catalogue images only.
        let Some(image) = image.catalog() else {
            return Err(OpError::Failed(format!(
                "backend {} cannot make a guest from {image}",
                self.record.backend
            )));
        };
        let (name, backend) = (self.record.name.clone(), self.record.backend.clone());
        let step = step
            .begin(format!("{backend}: creating {name} from {image}"))
            .await?;
        // Checked before the undo is registered: an existing guest is never removed.
        runtime
            .ensure_absent(&name)
            .await
            .map_err(|e| OpError::Failed(format!("creating {name}: {}", error_chain(&e))))?;
        step.on_undo(UndoAction::RemoveContainer {
            name: name.clone(),
            backend: backend.clone(),
            instance: Some(self.record.id),
        });
        let request = ProvisionRequest {
            name: name.clone(),
            image,
            password_hash: self.credentials.password_hash.clone(),
            ssh_keys: self.credentials.ssh_keys.clone(),
            limits: self.record.limits,
            node: self.node.clone(),
            instance_id: self.record.id.to_string(),
            arch: self.arch,
        };
        let progress = |p: Progress| step.progress(p.percent, format!("{backend}: {}", p.line));
        let placed = runtime
            .provision(&request, &progress)
            .await
            .map_err(|e| OpError::Failed(format!("creating {name}: {}", error_chain(&e))))?;
        self.record.node = placed.node;
        tracing::info!(instance = %name, operation = ?step.operation(), node = %self.record.node, "provisioned by the backend");
        self.provisioned = Some(placed.summary);
        Ok(step.done())
    }

    async fn clone_image(&mut self, app: &App, step: Pending<'_>) -> Result<Finished, OpError> {
        let Some(cached) = &self.cached else {
            return Ok(step.skip(self.provisioned.clone().unwrap_or_default()));
        };
        let name = &self.record.name;
        let step = step
            .begin(format!("cloning {} for {name}", self.image))
            .await?;
        step.on_undo(UndoAction::DestroyRootfs { name: name.clone() });
        let rootfs = app
            .storage
            .clone_for(cached, name, self.record.limits.disk)
            .await
            .map_err(|e| OpError::failed("cloning the image", e))?;
        if self.arch.is_some_and(|arch| app.images.is_foreign(arch)) {
            let target = rootfs.clone();
            tokio::task::spawn_blocking(move || berth_image::tailor::fit_for_emulation(&target))
                .await
                .map_err(|e| OpError::failed("emulation task", e))?
                .map_err(|e| OpError::failed("fitting the guest for qemu-user", e))?;
        }
        self.record.rootfs = Some(rootfs);
        Ok(step.done())
    }

    async fn configure(&mut self, app: &App, step: Pending<'_>) -> Result<Finished, OpError> {
        let Some(rootfs) = self.record.rootfs.clone() else {
            return Ok(step.skip(self.provisioned.clone().unwrap_or_default()));
        };
        let name = &self.record.name;
        let step = step
            .begin(format!(
                "configuring {name}: hostname, machine id, root login"
            ))
            .await?;
        let guest = app
            .give_identity(&rootfs, name, self.address.as_ref())
            .await?;
        let (target, credentials) = (rootfs.clone(), self.credentials.clone());
        tokio::task::spawn_blocking(move || App::write_credentials(&target, &credentials))
            .await
            .map_err(|e| OpError::failed("credentials task", e))?
            .map_err(|e| OpError::failed("writing root credentials", e))?;
        // (Whether the sshd policy changed does not matter: the guest has not booted yet.)
        let wireguard = self.wireguard.is_some();
        if let Some(config) = self.wireguard.take() {
            tokio::task::spawn_blocking(move || {
                let root = berth_guestfs::rootfs::Rootfs::open(&rootfs)?;
                berth_guestfs::customise::install_wireguard(&root, config.text())
            })
            .await
            .map_err(|e| OpError::failed("wireguard task", e))?
            .map_err(|e| OpError::failed("writing the WireGuard config", e))?;
        }
        // What could not be configured is said, not pretended: in the step's message and the
        // log.
        let missing = guest.unconfigured(wireguard);
        let network = match guest.host_configures_network() {
            true => "network set from the host",
            false => "network by systemd-networkd",
        };
        let mut summary = format!(
            "configured {name} (init {}; {network})",
            guest.init.as_str()
        );
        if !missing.is_empty() {
            summary.push_str("; not configured: ");
            summary.push_str(&missing.join("; "));
            tracing::warn!(instance = %name, init = guest.init.as_str(), missing = ?missing,
                "parts of the guest could not be configured");
        }
        step.message(summary);
        Ok(step.done())
    }

    async fn boot(&mut self, app: &App, step: Pending<'_>) -> Result<Finished, OpError> {
        let name = self.record.name.clone();
        self.record.state = InstanceState::Stopped;
        let finished = if self.start {
            let step = step.begin(format!("starting {name}")).await?;
            step.on_undo(UndoAction::DetachNetwork { name: name.clone() });
            step.on_undo(UndoAction::RemoveContainer {
                name: name.clone(),
                backend: self.record.backend.clone(),
                instance: Some(self.record.id),
            });
            app.boot(&self.record)
                .await
                .map_err(|e| OpError::failed(&format!("starting {name}"), e))?;
            self.record.state = InstanceState::Running;
            step.done()
        } else {
            step.skip("created stopped, as asked")
        };
        app.store
            .update_instance(&self.record)
            .map_err(|e| OpError::failed("saving the instance", e))?;
        tracing::info!(instance = %name, state = self.record.state.as_str(), "created");
        Ok(finished)
    }
}
