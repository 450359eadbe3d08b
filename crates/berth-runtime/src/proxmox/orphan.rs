//! Removing what a failed create left on PVE: when PVE stopped answering after it accepted a
//! create, its task may still finish the container. Once PVE answers again, berthd asks for
//! that container to go — only the one made for that very instance (its description carries
//! Berth's id of it), never another container of the same name.

use berth_types::InstanceName;

use super::create::instance_marker;
use super::{ProxmoxRuntime, cache, failed, unreachable};
use crate::RuntimeError;

impl ProxmoxRuntime {
    /// Destroys every Berth-tagged container named `name` whose description carries
    /// `instance_id`. `Ok` once none is left; an error (PVE unreachable, the container still
    /// locked by its create task) means: try again later.
    pub(super) async fn destroy_leftover(
        &self,
        name: &InstanceName,
        instance_id: &str,
    ) -> Result<(), RuntimeError> {
        let resources = self.cache.refresh().await.map_err(unreachable)?;
        let marker = instance_marker(instance_id);
        let candidates = resources
            .iter()
            .filter(|r| cache::is_berth_guest(r, name))
            .filter_map(|r| Some((r.node.clone()?, r.vmid?)));
        for (node, vmid) in candidates {
            let config = self
                .client
                .container_config(&node, vmid)
                .await
                .map_err(|e| failed(name, "reading the config of", e))?;
            let ours = config["description"]
                .as_str()
                .is_some_and(|d| d.contains(&marker));
            if !ours {
                continue;
            }
            tracing::info!(instance = %name, node, vmid, instance_id,
                "removing the container a failed create left on proxmox");
            let upid = self
                .client
                .delete_container(&node, vmid)
                .await
                .map_err(|e| failed(name, "removing", e))?;
            self.follow(
                &upid,
                |p| tracing::debug!(instance = %name, line = %p.line, "pve task"),
            )
            .await
            .map_err(|e| failed(name, "removing", e))?;
        }
        Ok(())
    }
}
