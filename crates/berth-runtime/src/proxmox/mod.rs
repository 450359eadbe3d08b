//! The `proxmox` backend: instances are LXC containers on a Proxmox VE node or cluster, driven
//! over PVE's HTTPS API. A container is found by its hostname (the instance name) among the
//! guests tagged `berth` in `/cluster/resources`, so Berth keeps no vmid of its own. Every
//! action is a PVE task, followed to its end. Reads go through a short-lived cache of
//! `/cluster/resources` that also answers, marked stale, while PVE is unreachable.

mod cache;
mod create;
mod metrics;
mod observe;
mod orphan;
mod snapshot;
mod ssh;

use std::collections::HashSet;
use std::sync::Mutex;
use std::time::Duration;

use berth_proxmox::client::TaskProgress;
use berth_proxmox::{Client, ClientConfig, ProxmoxError, Upid};
use berth_types::metrics::{Cf, MetricsHistory, Timeframe};
use berth_types::{InstanceName, Limits};

pub use ssh::SshSettings;

use crate::{
    Capabilities, ContainerSpec, ExecResult, ExecSpec, GuestCredentials, GuestKind, MetricsSource,
    NetworkMode, Observation, Placement, Progress, ProvisionRequest, Provisioned, RootfsSource,
    Runtime, RuntimeError, RuntimeStatus, SnapshotSource, TerminalSession, TerminalSpec,
};

/// The tag Berth puts on the containers it creates; only tagged guests are Berth's.
pub const TAG: &str = "berth";

/// How the backend is set up (`[proxmox]` in berth.toml).
#[derive(Debug, Clone)]
pub struct ProxmoxSettings {
    pub client: ClientConfig,
    /// Storage holding the `vztmpl` templates.
    pub template_storage: String,
    /// Storage for root filesystems (`local-lvm`).
    pub rootfs_storage: String,
    /// Bridge for `net0`.
    pub bridge: String,
    /// Node for new containers; `None`: the online node with the most free memory.
    pub node: Option<String>,
    pub unprivileged: bool,
    /// How long a `/cluster/resources` read answers reads (`X-Cache-Status: HIT`).
    pub cache_ttl: Duration,
    /// How long a read waits for PVE before answering from the cache (`STALE`).
    pub read_deadline: Duration,
    /// How often berthd re-reads `/cluster/resources` in the background.
    pub poll_interval: Duration,
    /// How often a running task is polled.
    pub task_poll: Duration,
    /// SSH to the nodes for `pct exec` (root's credentials); `None`: not configured.
    pub ssh: Option<SshSettings>,
}

pub struct ProxmoxRuntime {
    client: Client,
    settings: ProxmoxSettings,
    cache: cache::ResourceCache,
    /// Guests Berth froze: PVE's status shows a frozen container as `running`.
    frozen: Mutex<HashSet<InstanceName>>,
}

impl ProxmoxRuntime {
    pub fn new(settings: ProxmoxSettings) -> Result<Self, ProxmoxError> {
        Ok(Self {
            client: Client::new(settings.client.clone())?,
            cache: cache::ResourceCache::new(
                Client::new(settings.client.clone())?,
                settings.cache_ttl,
                settings.read_deadline,
            ),
            settings,
            frozen: Mutex::default(),
        })
    }

    pub fn url(&self) -> &str {
        self.client.url()
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Node and vmid of `name`, read fresh (writes must not act on a stale location).
    pub async fn locate(&self, name: &InstanceName) -> Result<Option<(String, u64)>, RuntimeError> {
        let resources = self.cache.refresh().await.map_err(unreachable)?;
        Ok(cache::find_guest(&resources, name).and_then(|g| Some((g.node.clone()?, g.vmid?))))
    }

    async fn located(&self, name: &InstanceName) -> Result<(String, u64), RuntimeError> {
        self.locate(name)
            .await?
            .ok_or_else(|| RuntimeError::Failed {
                name: name.clone(),
                action: "finding",
                reason: format!(
                    "proxmox at {}: no container named {name} tagged {TAG}",
                    self.url()
                ),
            })
    }

    /// Follows a task to its end, reporting each log line.
    pub async fn follow(
        &self,
        upid: &Upid,
        progress: impl FnMut(TaskProgress),
    ) -> Result<(), ProxmoxError> {
        let result = self
            .client
            .wait_task(upid, self.settings.task_poll, progress)
            .await;
        self.cache.invalidate();
        result
    }

    /// Runs `status/{verb}` on `name` and waits for its task.
    async fn power(
        &self,
        name: &InstanceName,
        verb: &'static str,
        params: &[(&str, String)],
    ) -> Result<(), RuntimeError> {
        let (node, vmid) = self.located(name).await?;
        let failed = |e: ProxmoxError| failed(name, verb, e);
        let upid = self
            .client
            .power(&node, vmid, verb, params)
            .await
            .map_err(failed)?;
        self.follow(
            &upid,
            |p| tracing::debug!(instance = %name, line = %p.line, "pve task"),
        )
        .await
        .map_err(failed)
    }

    fn is_frozen(&self, name: &InstanceName) -> bool {
        self.frozen_set().contains(name)
    }

    fn frozen_set(&self) -> std::sync::MutexGuard<'_, HashSet<InstanceName>> {
        self.frozen.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A failed read: `Unreachable` when PVE did not answer, else PVE's error.
fn unreachable(err: ProxmoxError) -> RuntimeError {
    if err.is_unreachable() {
        RuntimeError::Unreachable {
            backend: "proxmox",
            reason: err.to_string(),
        }
    } else {
        RuntimeError::Backend {
            backend: "proxmox",
            reason: err.to_string(),
        }
    }
}

fn failed(name: &InstanceName, action: &'static str, err: ProxmoxError) -> RuntimeError {
    if err.is_unreachable() {
        return unreachable(err);
    }
    RuntimeError::Failed {
        name: name.clone(),
        action,
        reason: err.to_string(),
    }
}

impl Runtime for ProxmoxRuntime {
    fn name(&self) -> &'static str {
        "proxmox"
    }

    fn check_usable(&self) -> Result<(), String> {
        Ok(())
    }

    /// Everything is PVE's: it makes the root filesystem from its template, networks the
    /// guest on its own bridge, keeps metrics and snapshots, and runs the guest on a node.
    fn capabilities(&self) -> Capabilities {
        Capabilities {
            rootfs: RootfsSource::Backend,
            network: NetworkMode::Backend,
            metrics: MetricsSource::Backend,
            snapshots: SnapshotSource::Backend,
            guest: GuestKind::Container,
            placement: Placement::Remote,
        }
    }

    async fn ensure_absent(&self, name: &InstanceName) -> Result<(), RuntimeError> {
        self.absent(name).await
    }

    async fn provision(
        &self,
        request: &ProvisionRequest,
        progress: &(dyn Fn(Progress) + Send + Sync),
    ) -> Result<Provisioned, RuntimeError> {
        self.create(request, progress).await
    }

    async fn snapshot_create(&self, name: &InstanceName, snap: &str) -> Result<(), RuntimeError> {
        self.take_snapshot(name, snap).await
    }

    async fn snapshot_rollback(&self, name: &InstanceName, snap: &str) -> Result<(), RuntimeError> {
        self.rollback_snapshot(name, snap).await
    }

    async fn snapshot_delete(&self, name: &InstanceName, snap: &str) -> Result<(), RuntimeError> {
        self.delete_snapshot(name, snap).await
    }

    /// `pct exec` on the container's node over SSH (`[proxmox.ssh]`).
    async fn set_credentials(
        &self,
        name: &InstanceName,
        credentials: &GuestCredentials,
    ) -> Result<(), RuntimeError> {
        self.set_credentials_over_ssh(name, credentials).await
    }

    async fn metrics_history(
        &self,
        name: &InstanceName,
        timeframe: Timeframe,
        cf: Cf,
    ) -> Result<MetricsHistory, RuntimeError> {
        self.rrd_history(name, timeframe, cf).await
    }

    async fn observe(&self, name: &InstanceName) -> Observation {
        self.observe_cached(name).await
    }

    fn poll_interval(&self) -> Option<Duration> {
        Some(self.settings.poll_interval)
    }

    async fn poll(&self) -> Result<(), RuntimeError> {
        self.cache.sync().await
    }

    /// `Ok` when PVE answers now; writes check this first so they fail at once, clearly.
    /// A hung node costs a write at most the read deadline, not the client's timeout.
    async fn probe(&self) -> Result<(), RuntimeError> {
        let deadline = self.settings.read_deadline;
        match tokio::time::timeout(deadline, self.client.version()).await {
            Ok(answer) => answer.map(drop).map_err(unreachable),
            Err(_) => Err(RuntimeError::Unreachable {
                backend: "proxmox",
                reason: format!(
                    "proxmox at {}: unreachable (no answer within {} ms)",
                    self.url(),
                    deadline.as_millis()
                ),
            }),
        }
    }

    async fn remove_leftover(
        &self,
        name: &InstanceName,
        instance_id: &str,
    ) -> Result<(), RuntimeError> {
        self.destroy_leftover(name, instance_id).await
    }

    /// PVE's status shows a frozen container as `running`: Berth's record is what says it is
    /// frozen after a restart of berthd.
    fn recall_frozen(&self, name: &InstanceName) {
        self.frozen_set().insert(name.clone());
    }

    async fn start(&self, spec: &ContainerSpec) -> Result<i32, RuntimeError> {
        self.power(&spec.name, "start", &[]).await?;
        self.frozen_set().remove(&spec.name);
        Ok(0)
    }

    async fn stop(&self, name: &InstanceName, timeout: Duration) -> Result<(), RuntimeError> {
        let params = [
            ("timeout", timeout.as_secs().to_string()),
            ("forceStop", "1".to_owned()),
        ];
        self.power(name, "shutdown", &params).await?;
        self.frozen_set().remove(name);
        Ok(())
    }

    async fn kill(&self, name: &InstanceName) -> Result<(), RuntimeError> {
        self.power(name, "stop", &[]).await?;
        self.frozen_set().remove(name);
        Ok(())
    }

    async fn freeze(&self, name: &InstanceName) -> Result<(), RuntimeError> {
        self.power(name, "suspend", &[]).await?;
        self.frozen_set().insert(name.clone());
        Ok(())
    }

    async fn thaw(&self, name: &InstanceName) -> Result<(), RuntimeError> {
        self.power(name, "resume", &[]).await?;
        self.frozen_set().remove(name);
        Ok(())
    }

    async fn status(&self, name: &InstanceName) -> Result<RuntimeStatus, RuntimeError> {
        self.observe_cached(name).await.status
    }

    async fn exec(
        &self,
        name: &InstanceName,
        _exec: &ExecSpec,
    ) -> Result<ExecResult, RuntimeError> {
        Err(self.unsupported(
            name,
            "exec in",
            "the Proxmox VE API cannot run a command in a container; use ssh",
        ))
    }

    async fn open_terminal(
        &self,
        name: &InstanceName,
        _spec: &TerminalSpec,
    ) -> Result<TerminalSession, RuntimeError> {
        Err(self.unsupported(
            name,
            "open a shell in",
            "the Proxmox VE API offers the console only (berth console without --shell)",
        ))
    }

    /// The container's console through PVE's termproxy + vncwebsocket.
    async fn attach_console(&self, name: &InstanceName) -> Result<TerminalSession, RuntimeError> {
        let (node, vmid) = self.located(name).await?;
        let terminal = self
            .client
            .open_terminal(&node, vmid)
            .await
            .map_err(|e| failed(name, "attaching the console", e))?;
        let (exited, exit) = tokio::sync::oneshot::channel();
        let ended = terminal.ended;
        tokio::spawn(async move {
            let _ = ended.await;
            let _ = exited.send(-1);
        });
        Ok(TerminalSession {
            output: Box::new(terminal.output),
            input: Box::new(terminal.input),
            resizer: Some(crate::terminal::TerminalResizer::remote(terminal.resize)),
            exit,
        })
    }

    async fn update_limits(
        &self,
        name: &InstanceName,
        limits: &Limits,
    ) -> Result<(), RuntimeError> {
        let (node, vmid) = self.located(name).await?;
        let params = create::limit_params(limits);
        if params.is_empty() {
            return Ok(());
        }
        self.client
            .set_config(&node, vmid, &params)
            .await
            .map_err(|e| failed(name, "changing limits", e))
    }

    async fn remove(&self, name: &InstanceName) -> Result<(), RuntimeError> {
        let Some((node, vmid)) = self.locate(name).await? else {
            return Ok(());
        };
        let upid = match self.client.delete_container(&node, vmid).await {
            Ok(upid) => upid,
            Err(e) if e.is_not_found() => return Ok(()),
            Err(e) => return Err(failed(name, "removing", e)),
        };
        self.follow(
            &upid,
            |p| tracing::debug!(instance = %name, line = %p.line, "pve task"),
        )
        .await
        .map_err(|e| failed(name, "removing", e))?;
        self.frozen_set().remove(name);
        Ok(())
    }
}
