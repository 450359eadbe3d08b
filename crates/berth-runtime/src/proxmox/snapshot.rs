//! Snapshots of proxmox instances are PVE's own (`/nodes/{node}/lxc/{vmid}/snapshot`): taken,
//! rolled back and deleted as PVE tasks.

use berth_types::InstanceName;

use super::{ProxmoxRuntime, failed};
use crate::RuntimeError;

impl ProxmoxRuntime {
    pub(super) async fn take_snapshot(
        &self,
        name: &InstanceName,
        snap: &str,
    ) -> Result<(), RuntimeError> {
        let (node, vmid) = self.located(name).await?;
        let fail = |e| failed(name, "taking a snapshot", e);
        let upid = self
            .client
            .create_snapshot(&node, vmid, snap, Some("taken by Berth"))
            .await
            .map_err(fail)?;
        self.follow(&upid, |_| {}).await.map_err(fail)
    }

    /// Rolls the container back to `snap` (PVE stops it first; it stays stopped).
    pub(super) async fn rollback_snapshot(
        &self,
        name: &InstanceName,
        snap: &str,
    ) -> Result<(), RuntimeError> {
        let (node, vmid) = self.located(name).await?;
        let fail = |e| failed(name, "restoring a snapshot", e);
        let upid = self
            .client
            .rollback_snapshot(&node, vmid, snap)
            .await
            .map_err(fail)?;
        self.follow(&upid, |_| {}).await.map_err(fail)?;
        self.frozen_set().remove(name);
        Ok(())
    }

    /// Deletes `snap`; a snapshot (or container) already gone is fine.
    pub(super) async fn delete_snapshot(
        &self,
        name: &InstanceName,
        snap: &str,
    ) -> Result<(), RuntimeError> {
        let Some((node, vmid)) = self.locate(name).await? else {
            return Ok(());
        };
        let fail = |e| failed(name, "deleting a snapshot", e);
        let upid = match self.client.delete_snapshot(&node, vmid, snap).await {
            Ok(upid) => upid,
            Err(e) if e.is_not_found() => return Ok(()),
            Err(e) => return Err(fail(e)),
        };
        self.follow(&upid, |_| {}).await.map_err(fail)
    }
}
