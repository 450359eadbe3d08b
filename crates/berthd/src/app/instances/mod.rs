//! Instances: create, power, delete, read, change and exec, one verb per module.

mod create;
mod delete;
mod early_boot;
mod exec;
pub mod list;
mod password;
mod patch;
pub mod power;
mod provision;
mod query;
mod security;

pub(crate) use query::process_started_at;

use berth_runtime::{ContainerSpec, RootfsSource, Runtime};
use berth_store::InstanceRecord;
use berth_types::InstanceName;

use super::error::HostError;
use super::{App, AppError};

/// Seconds a clean shutdown may take before the guest is killed.
pub const DEFAULT_STOP_TIMEOUT: u64 = 30;

impl App {
    /// The stored record of `name`, or a 404 naming it.
    pub(crate) fn instance_record(&self, name: &str) -> Result<InstanceRecord, AppError> {
        let parsed = InstanceName::parse(name)
            .map_err(|_| AppError::NotFound(format!("instance {name:?}")))?;
        self.store
            .get_instance(&parsed)?
            .ok_or_else(|| AppError::NotFound(format!("instance {name}")))
    }

    /// What the backend needs to boot `record`: its id range as recorded (allocated by
    /// `boot`), its nesting flag; the network, user namespace and lxcfs come at start.
    pub(crate) fn container_spec(&self, record: &InstanceRecord) -> ContainerSpec {
        let idmap = match record.privileged {
            true => None,
            false => self.store.idmap_of(&record.name).ok().flatten(),
        };
        ContainerSpec {
            name: record.name.clone(),
            rootfs: record.rootfs.clone().unwrap_or_default(),
            hostname: record.name.to_string(),
            limits: record.limits,
            state_dir: self.instance_dir(&record.name).join("runtime"),
            runtime: record.runtime.clone(),
            netns: None,
            security: berth_runtime::GuestSecurity {
                idmap,
                nesting: record.nesting,
                ..Default::default()
            },
        }
    }

    /// Starts `record`'s guest: plugs it into the bridge, then has its backend boot it.
    pub(crate) async fn boot(&self, record: &InstanceRecord) -> Result<(), HostError> {
        let runtime = self
            .runtime(&record.backend)
            .map_err(|e| HostError::message("finding the backend", e.to_string()))?;
        if runtime.capabilities().rootfs == RootfsSource::Local {
            self.storage
                .activate(&record.name)
                .map_err(|e| HostError::host("mounting the instance's disk", e))?;
        }
        // Guest network files are rewritten at every start, so a changed uplink applies.
        let mut host_configures = false;
        if let (Some(rootfs), true) = (
            &record.rootfs,
            runtime.capabilities().network.takes_address(),
        ) && let Some(address) = self.store.addresses_of(&record.name)?
        {
            let guest = self.write_guest_network(rootfs, &address).await?;
            host_configures = guest.host_configures_network();
        }
        let mut spec = self.container_spec(record);
        spec.security = self.guest_security(record).await?;
        let attached = self
            .attach_network(record, spec.security.idmap, host_configures)
            .await?;
        if let Some(attached) = attached {
            spec.netns = Some(attached.netns);
            spec.security.userns = attached.userns;
        }
        let pid = runtime.start(&spec).await?;
        self.await_early_boot(record, pid).await?;
        tracing::debug!(instance = %record.name, pid, privileged = spec.security.privileged(),
            "booted");
        self.watch_guest(record, pid);
        Ok(())
    }
}
pub(crate) use delete::DeleteStep;
pub(crate) use password::RootCredentials;
pub use power::{PowerAction, PowerStep};
pub(crate) use provision::CreateStep;
