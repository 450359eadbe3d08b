//! Instances: create, power, delete, read, change and exec, one verb per module.

mod create;
mod delete;
mod exec;
mod password;
mod patch;
pub mod power;
mod query;

use berth_runtime::{ContainerSpec, Runtime};
use berth_store::InstanceRecord;
use berth_types::InstanceName;

use super::error::error_chain;
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

    /// What the backend needs to boot `record`.
    pub(crate) fn container_spec(&self, record: &InstanceRecord) -> ContainerSpec {
        ContainerSpec {
            name: record.name.clone(),
            rootfs: record.rootfs.clone().unwrap_or_default(),
            hostname: record.name.to_string(),
            limits: record.limits,
            state_dir: self.instance_dir(&record.name).join("runtime"),
            netns: None,
        }
    }

    /// Starts `record`'s guest: plugs it into the bridge, then has its backend boot it.
    pub(crate) async fn boot(&self, record: &InstanceRecord) -> Result<(), String> {
        let runtime = self.runtime(&record.backend).map_err(|e| e.to_string())?;
        if Self::uses_local_rootfs(&record.backend) {
            self.storage
                .activate(&record.name)
                .map_err(|e| format!("disk: {e}"))?;
        }
        // Guest network files are rewritten at every start, so a changed uplink applies.
        if let (Some(rootfs), true) = (
            &record.rootfs,
            crate::app::network::networked(&record.backend),
        ) && let Some(address) = self
            .store
            .addresses_of(&record.name)
            .map_err(|e| error_chain(&e))?
        {
            self.write_guest_network(rootfs, &address)
                .await
                .map_err(|e| format!("guest network files: {e}"))?;
        }
        let mut spec = self.container_spec(record);
        spec.netns = self
            .attach_network(record)
            .await
            .map_err(|e| format!("network: {e}"))?;
        let pid = runtime.start(&spec).await.map_err(|e| error_chain(&e))?;
        tracing::debug!(instance = %record.name, pid, "booted");
        Ok(())
    }
}
pub(crate) use password::RootCredentials;
pub use power::PowerAction;
