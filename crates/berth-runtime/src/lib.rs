//! The `Runtime` trait every backend implements, and `AnyRuntime`, the closed set of backends.
//!
//! A runtime runs one prepared root filesystem as a system container: it starts the guest's init,
//! stops it, freezes it, runs commands in it and removes every trace of it. It does not build
//! root filesystems (berth-image) or remember instances (berth-store).

pub mod builtin;
mod capabilities;
mod error;
pub mod local;
pub mod lxc;
pub mod nspawn;
pub mod oci;
pub mod proxmox;
pub mod shim;
pub mod sim;
mod spec;
pub mod terminal;

pub use capabilities::{
    Capabilities, GuestKind, Location, MetricsSource, NetworkMode, Observation, Placement,
    Progress, ProvisionRequest, Provisioned, RootfsSource, SnapshotSource,
};
pub use error::RuntimeError;
pub use spec::{
    ContainerSpec, ExecResult, ExecSpec, GuestCredentials, GuestSecurity, RuntimeStatus,
};
pub use terminal::{TerminalSession, TerminalSpec};

use std::time::Duration;

use berth_types::metrics::{Cf, MetricsHistory, Timeframe};
use berth_types::{InstanceName, Limits};

/// What every backend does. Futures are awaited on the daemon's tokio runtime; anything that
/// forks or blocks runs in a helper process or a blocking thread, never on the executor.
#[allow(
    async_fn_in_trait,
    reason = "dispatched statically through AnyRuntime; no dyn use"
)]
pub trait Runtime {
    /// The backend's name as the API shows it (`builtin`, `sim`, `proxmox`).
    fn name(&self) -> &'static str;
    /// `Ok` when this host can run the backend, or the reason it cannot.
    fn check_usable(&self) -> Result<(), String>;
    /// Boots the guest's init and returns its host PID once it runs.
    async fn start(&self, spec: &ContainerSpec) -> Result<i32, RuntimeError>;
    /// Asks init to shut down (SIGRTMIN+3 for systemd), killing it after `timeout`; returns
    /// once nothing of the guest runs any more.
    async fn stop(&self, name: &InstanceName, timeout: Duration) -> Result<(), RuntimeError>;
    /// Kills every process of the guest at once and waits for them to be gone.
    async fn kill(&self, name: &InstanceName) -> Result<(), RuntimeError>;
    /// Freezes every process of the guest (cgroup freezer).
    async fn freeze(&self, name: &InstanceName) -> Result<(), RuntimeError>;
    async fn thaw(&self, name: &InstanceName) -> Result<(), RuntimeError>;
    /// What the guest is doing now, read from the host (not remembered).
    async fn status(&self, name: &InstanceName) -> Result<RuntimeStatus, RuntimeError>;
    /// Runs a command inside a running guest and collects its output.
    async fn exec(&self, name: &InstanceName, exec: &ExecSpec) -> Result<ExecResult, RuntimeError>;
    /// Starts an interactive command on a pseudo-terminal inside a running guest.
    async fn open_terminal(
        &self,
        name: &InstanceName,
        spec: &TerminalSpec,
    ) -> Result<TerminalSession, RuntimeError>;
    /// Attaches to the guest's own console (`/dev/console`, where its getty runs); several
    /// viewers may attach at once.
    async fn attach_console(&self, name: &InstanceName) -> Result<TerminalSession, RuntimeError>;
    /// Applies new limits to a running guest.
    async fn update_limits(&self, name: &InstanceName, limits: &Limits)
    -> Result<(), RuntimeError>;
    /// Removes everything the backend keeps for `name` (processes, state, cgroups). Idempotent:
    /// removing what is not there succeeds.
    async fn remove(&self, name: &InstanceName) -> Result<(), RuntimeError>;

    // What follows every backend answers too; the default bodies are the local backends'.

    /// What this backend is: the app asks this, never the backend's name.
    fn capabilities(&self) -> Capabilities {
        Capabilities::LOCAL
    }

    /// The runtime tools a guest of this backend may run under, when it offers a choice (the
    /// oci backend: `crun`, `runc`); empty when it runs every guest one way.
    fn runtime_tools(&self) -> &'static [&'static str] {
        &[]
    }

    /// The runtime tool a new guest runs under: `asked` (one of `runtime_tools`), else the
    /// backend's default, checked to be installed; `None` for a backend without a choice.
    /// `Err` says why not (unknown, not installed, no choice here).
    fn choose_runtime_tool(&self, asked: Option<&str>) -> Result<Option<&'static str>, String> {
        no_runtime_choice(self.name(), asked)
    }

    /// `Ok` when nothing of the backend's own is called `name`, so a failed provision may
    /// remove what it made without touching someone else's guest. Local backends keep nothing
    /// before Berth prepares the root filesystem.
    async fn ensure_absent(&self, _name: &InstanceName) -> Result<(), RuntimeError> {
        Ok(())
    }

    /// Makes the guest's root filesystem (and the guest, stopped) where the backend keeps it
    /// (`RootfsSource::Backend`), reporting its own progress. Local backends boot the root
    /// filesystem Berth prepares instead.
    async fn provision(
        &self,
        request: &ProvisionRequest,
        _progress: &(dyn Fn(Progress) + Send + Sync),
    ) -> Result<Provisioned, RuntimeError> {
        Err(self.unsupported(
            &request.name,
            "provision",
            "Berth prepares its root filesystem",
        ))
    }

    /// Takes snapshot `snap` with the backend's own mechanism (`SnapshotSource::Backend`).
    async fn snapshot_create(&self, name: &InstanceName, _snap: &str) -> Result<(), RuntimeError> {
        Err(self.unsupported(name, "snapshot", "snapshots are Berth's storage's"))
    }

    /// Rolls the guest back to snapshot `snap`; the guest is stopped afterwards.
    async fn snapshot_rollback(
        &self,
        name: &InstanceName,
        _snap: &str,
    ) -> Result<(), RuntimeError> {
        Err(self.unsupported(name, "restore", "snapshots are Berth's storage's"))
    }

    /// Deletes snapshot `snap`; one already gone is fine.
    async fn snapshot_delete(&self, name: &InstanceName, _snap: &str) -> Result<(), RuntimeError> {
        Err(self.unsupported(name, "delete a snapshot", "snapshots are Berth's storage's"))
    }

    /// Sets root's credentials in a running guest whose root filesystem the backend keeps
    /// (`RootfsSource::Backend`); local backends' guests get them written into the root
    /// filesystem Berth prepared instead. `NotConfigured` when the backend needs setting up.
    async fn set_credentials(
        &self,
        name: &InstanceName,
        _credentials: &GuestCredentials,
    ) -> Result<(), RuntimeError> {
        Err(self.unsupported(
            name,
            "set root's credentials in",
            "Berth writes them into the root filesystem",
        ))
    }

    /// The guest's metrics history from the backend's own records (`MetricsSource::Backend`).
    async fn metrics_history(
        &self,
        name: &InstanceName,
        _timeframe: Timeframe,
        _cf: Cf,
    ) -> Result<MetricsHistory, RuntimeError> {
        Err(self.unsupported(name, "read metrics", "Berth's collector samples its guests"))
    }

    /// The guest's state and where the answer came from. Local backends read it live.
    async fn observe(&self, name: &InstanceName) -> Observation {
        Observation::live(self.status(name).await)
    }

    /// Remote backends: how often berthd should re-read every guest's state in the background
    /// (`poll`), to notice changes made outside Berth. `None`: local, watched otherwise.
    fn poll_interval(&self) -> Option<Duration> {
        None
    }

    /// Remote backends: re-reads the state of every guest now (waiting as long as that
    /// takes), so the next `observe` answers from it.
    async fn poll(&self) -> Result<(), RuntimeError> {
        Ok(())
    }

    /// `Ok` when the backend can take writes now; a remote one that does not answer is
    /// `Unreachable`. Local backends always can.
    async fn probe(&self) -> Result<(), RuntimeError> {
        Ok(())
    }

    /// Removes the guest a failed create made for Berth's instance `instance_id`, if the
    /// backend still holds it (a remote backend that finished the create while it did not
    /// answer), and nothing else of that name. `Ok` once none is left; an error means: try
    /// again later. Local backends' undo always reaches them: nothing is left.
    async fn remove_leftover(
        &self,
        _name: &InstanceName,
        _instance_id: &str,
    ) -> Result<(), RuntimeError> {
        Ok(())
    }

    /// Berth's record says it froze `name` (told when berthd starts). A backend whose status
    /// cannot tell a frozen guest from a running one (PVE's) believes it until the guest is
    /// thawed, stopped or started; others read the freeze live and ignore this.
    fn recall_frozen(&self, _name: &InstanceName) {}

    /// The error of an operation this backend leaves to Berth (or cannot do).
    fn unsupported(
        &self,
        name: &InstanceName,
        action: &'static str,
        why: &'static str,
    ) -> RuntimeError {
        RuntimeError::Unsupported {
            backend: self.name(),
            name: name.clone(),
            action,
            why,
        }
    }
}

/// The closed set of backends, dispatched without `dyn`.
pub enum AnyRuntime {
    Builtin(builtin::BuiltinRuntime),
    Nspawn(nspawn::NspawnRuntime),
    Lxc(lxc::LxcRuntime),
    Oci(oci::OciRuntime),
    Sim(sim::SimRuntime),
    /// Boxed: it holds an API client and its caches (hundreds of bytes).
    Proxmox(Box<proxmox::ProxmoxRuntime>),
}

macro_rules! dispatch {
    ($self:ident, $rt:ident => $call:expr) => {
        match $self {
            AnyRuntime::Builtin($rt) => $call,
            AnyRuntime::Nspawn($rt) => $call,
            AnyRuntime::Lxc($rt) => $call,
            AnyRuntime::Oci($rt) => $call,
            AnyRuntime::Sim($rt) => $call,
            AnyRuntime::Proxmox($rt) => $call,
        }
    };
}

impl Runtime for AnyRuntime {
    fn name(&self) -> &'static str {
        dispatch!(self, rt => rt.name())
    }
    fn check_usable(&self) -> Result<(), String> {
        dispatch!(self, rt => rt.check_usable())
    }
    async fn start(&self, spec: &ContainerSpec) -> Result<i32, RuntimeError> {
        dispatch!(self, rt => rt.start(spec).await)
    }
    async fn stop(&self, name: &InstanceName, timeout: Duration) -> Result<(), RuntimeError> {
        dispatch!(self, rt => rt.stop(name, timeout).await)
    }
    async fn kill(&self, name: &InstanceName) -> Result<(), RuntimeError> {
        dispatch!(self, rt => rt.kill(name).await)
    }
    async fn freeze(&self, name: &InstanceName) -> Result<(), RuntimeError> {
        dispatch!(self, rt => rt.freeze(name).await)
    }
    async fn thaw(&self, name: &InstanceName) -> Result<(), RuntimeError> {
        dispatch!(self, rt => rt.thaw(name).await)
    }
    async fn status(&self, name: &InstanceName) -> Result<RuntimeStatus, RuntimeError> {
        dispatch!(self, rt => rt.status(name).await)
    }
    async fn exec(&self, name: &InstanceName, exec: &ExecSpec) -> Result<ExecResult, RuntimeError> {
        dispatch!(self, rt => rt.exec(name, exec).await)
    }
    async fn open_terminal(
        &self,
        name: &InstanceName,
        spec: &TerminalSpec,
    ) -> Result<TerminalSession, RuntimeError> {
        dispatch!(self, rt => rt.open_terminal(name, spec).await)
    }
    async fn attach_console(&self, name: &InstanceName) -> Result<TerminalSession, RuntimeError> {
        dispatch!(self, rt => rt.attach_console(name).await)
    }
    async fn update_limits(
        &self,
        name: &InstanceName,
        limits: &Limits,
    ) -> Result<(), RuntimeError> {
        dispatch!(self, rt => rt.update_limits(name, limits).await)
    }
    async fn remove(&self, name: &InstanceName) -> Result<(), RuntimeError> {
        dispatch!(self, rt => rt.remove(name).await)
    }
    fn capabilities(&self) -> Capabilities {
        dispatch!(self, rt => rt.capabilities())
    }
    fn runtime_tools(&self) -> &'static [&'static str] {
        dispatch!(self, rt => rt.runtime_tools())
    }
    fn choose_runtime_tool(&self, asked: Option<&str>) -> Result<Option<&'static str>, String> {
        dispatch!(self, rt => rt.choose_runtime_tool(asked))
    }
    async fn ensure_absent(&self, name: &InstanceName) -> Result<(), RuntimeError> {
        dispatch!(self, rt => rt.ensure_absent(name).await)
    }
    async fn provision(
        &self,
        request: &ProvisionRequest,
        progress: &(dyn Fn(Progress) + Send + Sync),
    ) -> Result<Provisioned, RuntimeError> {
        dispatch!(self, rt => rt.provision(request, progress).await)
    }
    async fn snapshot_create(&self, name: &InstanceName, snap: &str) -> Result<(), RuntimeError> {
        dispatch!(self, rt => rt.snapshot_create(name, snap).await)
    }
    async fn snapshot_rollback(&self, name: &InstanceName, snap: &str) -> Result<(), RuntimeError> {
        dispatch!(self, rt => rt.snapshot_rollback(name, snap).await)
    }
    async fn snapshot_delete(&self, name: &InstanceName, snap: &str) -> Result<(), RuntimeError> {
        dispatch!(self, rt => rt.snapshot_delete(name, snap).await)
    }
    async fn set_credentials(
        &self,
        name: &InstanceName,
        credentials: &GuestCredentials,
    ) -> Result<(), RuntimeError> {
        dispatch!(self, rt => rt.set_credentials(name, credentials).await)
    }
    async fn metrics_history(
        &self,
        name: &InstanceName,
        timeframe: Timeframe,
        cf: Cf,
    ) -> Result<MetricsHistory, RuntimeError> {
        dispatch!(self, rt => rt.metrics_history(name, timeframe, cf).await)
    }
    async fn observe(&self, name: &InstanceName) -> Observation {
        dispatch!(self, rt => rt.observe(name).await)
    }
    async fn probe(&self) -> Result<(), RuntimeError> {
        dispatch!(self, rt => rt.probe().await)
    }
    async fn remove_leftover(
        &self,
        name: &InstanceName,
        instance_id: &str,
    ) -> Result<(), RuntimeError> {
        dispatch!(self, rt => rt.remove_leftover(name, instance_id).await)
    }
    fn recall_frozen(&self, name: &InstanceName) {
        dispatch!(self, rt => rt.recall_frozen(name))
    }
    fn poll_interval(&self) -> Option<Duration> {
        dispatch!(self, rt => rt.poll_interval())
    }
    async fn poll(&self) -> Result<(), RuntimeError> {
        dispatch!(self, rt => rt.poll().await)
    }
}

/// A backend that runs every guest one way: no runtime asked is fine, one asked is refused.
pub(crate) fn no_runtime_choice(
    backend: &str,
    asked: Option<&str>,
) -> Result<Option<&'static str>, String> {
    match asked {
        None => Ok(None),
        Some(_) => Err(format!(
            "backend {backend} runs every guest one way; it has no runtime to choose"
        )),
    }
}
