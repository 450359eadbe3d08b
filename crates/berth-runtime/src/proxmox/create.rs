//! Creating a container on PVE: choose the node, take a vmid from `/cluster/nextid`, find the
//! image's `vztmpl` template, `POST /nodes/{node}/lxc`, and follow the `vzcreate` task.

use berth_proxmox::client::CreateContainer;
use berth_proxmox::placement;
use berth_types::{Arch, InstanceName, Limits};

use super::{ProxmoxRuntime, TAG, failed, unreachable};
use crate::{Progress, ProvisionRequest, Provisioned, RuntimeError};

/// `cores`, `cpulimit`, `memory` and `swap` for `limits` (swap 0: RAM is the limit, as on the
/// local backends), as `PUT …/config` takes them.
pub(super) fn limit_params(limits: &Limits) -> Vec<(&'static str, String)> {
    let mut params = Vec::new();
    if let Some(cpu) = limits.cpu {
        params.push(("cores", (cpu.ceil().max(1.0) as u32).to_string()));
        // Whole cores need no time limit (0 = none); a fraction is one.
        let cpulimit = if cpu.fract() != 0.0 { cpu } else { 0.0 };
        params.push(("cpulimit", format!("{cpulimit}")));
    }
    if let Some(memory) = limits.memory {
        params.push(("memory", (memory >> 20).max(16).to_string()));
        params.push(("swap", "0".to_owned()));
    }
    params
}

/// PVE's name for `arch` (its `arch` enum: `amd64`, `i386`, `arm64`, `armhf`, `riscv32`,
/// `riscv64`); every architecture Berth knows has one.
pub(super) fn pve_arch(arch: Arch) -> &'static str {
    match arch {
        Arch::Amd64 => "amd64",
        Arch::Arm64 => "arm64",
    }
}

/// The description Berth gives a container: it names the instance and carries Berth's id of it
/// (`instance_marker`), which is how a failed create's leftover is told from any other.
fn description(name: &InstanceName, instance_id: &str) -> String {
    format!(
        "Managed by Berth: instance {name} {}",
        instance_marker(instance_id)
    )
}

/// The part of the description that names the instance's id: `(ID)`.
pub(super) fn instance_marker(instance_id: &str) -> String {
    format!("({instance_id})")
}

impl ProxmoxRuntime {
    /// Refuses a name PVE already has a Berth container for: left by a create PVE finished
    /// while berthd could not see it, or made by hand. Never removed without being asked.
    pub(super) async fn absent(&self, name: &InstanceName) -> Result<(), RuntimeError> {
        let Some((node, vmid)) = self.locate(name).await? else {
            return Ok(());
        };
        Err(RuntimeError::Failed {
            name: name.clone(),
            action: "creating",
            reason: format!(
                "proxmox at {} already has a container {name} (CT {vmid} on {node}) tagged \
                 {TAG}; remove it in PVE (pct destroy {vmid}) or choose another name",
                self.url()
            ),
        })
    }

    /// Creates the container (stopped) from the image's `vztmpl` template, with hostname,
    /// password hash, keys and limits; `progress` hears each task log line.
    pub(super) async fn create(
        &self,
        request: &ProvisionRequest,
        progress: &(dyn Fn(Progress) + Send + Sync),
    ) -> Result<Provisioned, RuntimeError> {
        let name = &request.name;
        let fail = |e| failed(name, "creating", e);
        self.absent(name).await?;
        let resources = self
            .client
            .resources(Some("node"))
            .await
            .map_err(unreachable)?;
        let wanted = request.node.as_deref().or(self.settings.node.as_deref());
        let node =
            placement::choose_node(&resources, wanted).map_err(|e| RuntimeError::Backend {
                backend: "proxmox",
                reason: e.to_string(),
            })?;
        let ostemplate = self.template_for(&node, &request.image.to_string()).await?;
        let vmid = self.client.next_id().await.map_err(fail)?;
        let limits = limit_params(&request.limits);
        let find = |key: &str| -> Option<u64> {
            limits
                .iter()
                .find(|(k, _)| *k == key)
                .and_then(|(_, v)| v.parse().ok())
        };
        let disk_gib = request
            .limits
            .disk
            .map(|bytes| bytes.div_ceil(1 << 30).max(1))
            .unwrap_or(8);
        let spec = CreateContainer {
            vmid,
            ostemplate,
            hostname: name.to_string(),
            password: request.password_hash.clone(),
            ssh_public_keys: (!request.ssh_keys.is_empty()).then(|| request.ssh_keys.join("\n")),
            cores: find("cores").and_then(|c| u32::try_from(c).ok()),
            cpulimit: request.limits.cpu.filter(|c| c.fract() != 0.0),
            memory: find("memory"),
            swap: request.limits.memory.map(|_| 0),
            rootfs: Some(format!("{}:{disk_gib}", self.settings.rootfs_storage)),
            net0: Some(format!(
                "name=eth0,bridge={},ip=dhcp,ip6=auto",
                self.settings.bridge
            )),
            unprivileged: self.settings.unprivileged,
            features: Some("nesting=1".into()),
            tags: Some(TAG.into()),
            description: Some(description(name, &request.instance_id)),
            arch: request.arch.map(pve_arch),
        };
        tracing::info!(instance = %name, node, vmid, arch = ?spec.arch, "creating on proxmox");
        let upid = self
            .client
            .create_container(&node, &spec)
            .await
            .map_err(fail)?;
        let report = |p: berth_proxmox::client::TaskProgress| {
            progress(Progress {
                percent: p.percent,
                line: p.line,
            })
        };
        self.follow(&upid, report).await.map_err(fail)?;
        Ok(Provisioned {
            summary: format!("proxmox built CT {vmid} on node {node} from its template"),
            node,
        })
    }

    /// The newest `vztmpl` on `node` for `image` (`debian/12` → `debian-12-standard_…`).
    async fn template_for(&self, node: &str, image: &str) -> Result<String, RuntimeError> {
        let prefix = format!("{}-standard_", image.replace('/', "-"));
        let storage = &self.settings.template_storage;
        let volumes = self
            .client
            .templates(node, storage)
            .await
            .map_err(unreachable)?;
        let mut matching: Vec<String> = volumes
            .into_iter()
            .map(|v| v.volid)
            .filter(|volid| {
                volid
                    .rsplit('/')
                    .next()
                    .is_some_and(|file| file.starts_with(&prefix))
            })
            .collect();
        matching.sort();
        matching.pop().ok_or_else(|| RuntimeError::Backend {
            backend: "proxmox",
            reason: format!(
                "proxmox node {node} has no template {prefix}* for image {image} in storage \
                 {storage}; download it with `pveam download {storage} …`"
            ),
        })
    }
}
