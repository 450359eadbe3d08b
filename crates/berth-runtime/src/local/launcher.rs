//! The seam between the local layer and one local backend: a [`Launcher`] says how its guest
//! starts — the engine, its argv and options, as a [`LaunchPlan`] — and, where the container
//! defaults do not fit its kind of guest, how a running one is shut down, entered and watched.
//! [`super::LocalRuntime`] implements the `Runtime` trait once on top of it.

use super::guest::{Launch, RunningGuest};
use super::plan::LaunchPlan;
use super::state::{Paths, Proc};
use super::{console, control, exec, terminal};
use crate::{ExecResult, ExecSpec, RuntimeError, TerminalSession, TerminalSpec};

#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    /// The backend cannot run here (its tool is missing); nothing was started.
    #[error("{0}")]
    Unusable(String),
    #[error("{0}")]
    Failed(String),
}

impl From<super::spec::SpecError> for PlanError {
    fn from(e: super::spec::SpecError) -> Self {
        PlanError::Failed(e.to_string())
    }
}

/// One local backend: how its guest starts, and how it is reached where a system container's
/// ways (signals, `berthd shim enter`, the supervisor's console pty) do not fit.
#[allow(
    async_fn_in_trait,
    reason = "dispatched statically through LocalRuntime<L>; no dyn use"
)]
pub trait Launcher: Send + Sync + 'static {
    /// The backend's name as the API shows it (`builtin`, `nspawn`, `oci`).
    fn name(&self) -> &'static str;

    /// `Ok` when this host has what the backend needs beyond what every local backend needs
    /// (root, the cgroup controllers, the shim), or the reason it has not.
    fn check_usable(&self) -> Result<(), String>;

    /// The runtime tools a guest may run under, when the backend offers a choice
    /// (`crate::Runtime::runtime_tools`); empty by default.
    fn runtime_tools(&self) -> &'static [&'static str] {
        &[]
    }

    /// The tool a new guest runs under (`crate::Runtime::choose_runtime_tool`). Default: no
    /// choice, so only `None` is accepted.
    fn choose_runtime_tool(&self, asked: Option<&str>) -> Result<Option<&'static str>, String> {
        crate::no_runtime_choice(self.name(), asked)
    }

    /// Whether the supervisor mounts an unprivileged guest's root idmapped through its user
    /// namespace (and runs in a mount namespace of its own with a fresh `/proc`) and hands
    /// the mount to this launcher as [`Launch::rootfs`]. `false` for a tool that makes its own
    /// user namespace and idmapped mount (nspawn).
    fn idmapped_root(&self) -> bool {
        true
    }

    /// What the supervisor runs for `launch`: the engine with its argv and options. May write
    /// files into the guest's state directory (an OCI bundle).
    fn plan(&self, launch: &Launch<'_>) -> Result<LaunchPlan, PlanError>;

    /// Asks a running guest to shut down cleanly; the guest is killed if it has not gone by
    /// the stop's timeout. Default: systemd's SIGRTMIN+3 when init hears it, else the
    /// power-off signals of BusyBox init, openrc-init and SysV init ([`super::shutdown`]).
    fn request_shutdown(&self, guest: &Paths, init: Proc) -> std::io::Result<()> {
        let _ = guest;
        for signal in super::shutdown::signals_for(init) {
            control::signal(init, signal)?;
        }
        Ok(())
    }

    /// Runs a command inside a running guest. Default: `berthd shim enter` (init's
    /// namespaces and cgroups, its bounding set, the seccomp deny list).
    async fn exec(
        &self,
        guest: &RunningGuest<'_>,
        spec: &ExecSpec,
    ) -> Result<ExecResult, RuntimeError> {
        exec::run_in(guest, spec).await
    }

    /// Starts an interactive command on a pseudo-terminal inside a running guest. Default:
    /// `berthd shim enter` on a pty from the guest's own devpts.
    async fn open_terminal(
        &self,
        guest: &RunningGuest<'_>,
        spec: &TerminalSpec,
    ) -> Result<TerminalSession, RuntimeError> {
        terminal::open_in(guest, spec).await
    }

    /// Attaches to the guest's console. Default: the supervisor's console pty, through its
    /// socket.
    async fn attach_console(
        &self,
        guest: &RunningGuest<'_>,
    ) -> Result<TerminalSession, RuntimeError> {
        console::attach(guest).await
    }
}
