//! What the backends that drive a host tool per guest (nspawn, oci) share: a detached
//! supervisor (`berth-shim tool`) that puts the tool in the guest's cgroup `/berth/<name>`
//! with Berth's limits, finds the guest's init and reports it; and an `enter` helper for exec
//! and terminals. Everything after start reuses the builtin backend's files (`shim.pid`,
//! `init.pid`, `stopping`), cgroup code and control functions, so stop (SIGRTMIN+3, then
//! SIGKILL), freeze, status, limits and remove behave the same, and guests outlive berthd.

mod cgroups;
mod supervise;

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

pub(crate) use supervise::tool_main;

use crate::builtin::BuiltinRuntime;
use crate::builtin::launch::{LaunchError, spawn_shim};
use crate::local::state::Paths;
use crate::local::{LocalConfig, control};
use crate::{ContainerSpec, Runtime, RuntimeError, RuntimeStatus, TerminalSession, TerminalSpec};
use berth_cgroups::Layout;

/// What the supervisor runs, written by the daemon to `launch.json` in the guest's state
/// directory under `state_root`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct LaunchPlan {
    /// The tool's argv; it runs in the guest's cgroups with the console pty as stdin/stdout.
    pub argv: Vec<String>,
    /// Unmount a hybrid host's `/sys/fs/cgroup/unified` in a private mount namespace before
    /// running the tool (crun refuses the hybrid layout otherwise).
    pub hide_unified: bool,
    /// Exit codes of the tool that mean the guest asked for a reboot: run it again.
    pub reboot_codes: Vec<i32>,
    /// Run once the tool exited, to drop the tool's own state (`crun delete -f NAME`).
    pub cleanup: Option<Vec<String>>,
    /// The guest's state directory (`ContainerSpec::state_dir`): console log.
    pub state_dir: PathBuf,
    /// Put the tool in the guest's cgroups before it runs (nspawn); an OCI runtime places
    /// the guest itself (`linux.cgroupsPath`) and must stay outside, or freezing the guest
    /// would freeze it too.
    pub join_cgroups: bool,
    /// A network namespace the tool runs in (joined before it execs).
    #[serde(default)]
    pub netns: Option<PathBuf>,
    /// An OCI bundle whose `/dev/console` bind mount is pointed at the console pty.
    pub bundle: Option<PathBuf>,
}

/// The shared half of a host-tool backend. Control goes through a builtin runtime on the
/// backend's own `state_root`, which only reads files and cgroups.
pub(crate) struct Supervised {
    pub backend: &'static str,
    pub inner: BuiltinRuntime,
}

impl Supervised {
    pub fn new(backend: &'static str, config: LocalConfig) -> Self {
        Self {
            backend,
            inner: BuiltinRuntime::new(config),
        }
    }

    pub fn config(&self) -> &LocalConfig {
        self.inner.config()
    }

    fn failed(&self, spec: &ContainerSpec, e: impl std::fmt::Display) -> RuntimeError {
        tracing::warn!(instance = %spec.name, backend = self.backend, "start: {e}");
        RuntimeError::Failed {
            name: spec.name.clone(),
            action: "start",
            reason: e.to_string(),
        }
    }

    /// Prepares the guest's cgroups and state, then has the supervisor run `plan`.
    pub async fn start(&self, spec: &ContainerSpec, plan: LaunchPlan) -> Result<i32, RuntimeError> {
        let paths = Paths::new(&self.config().state_root, spec.name.as_str());
        let prepared = {
            let (paths, limits) = (paths.clone(), spec.limits);
            let plan = plan.clone();
            tokio::task::spawn_blocking(move || prepare(&paths, &limits, &plan))
                .await
                .map_err(|e| self.failed(spec, e))?
        };
        match prepared {
            Err(PrepareError::Running) => {
                return Err(RuntimeError::AlreadyRunning(spec.name.clone()));
            }
            Err(e) => return Err(self.failed(spec, e)),
            Ok(()) => {}
        }
        let args: Vec<std::ffi::OsString> = vec![
            "tool".into(),
            "--name".into(),
            spec.name.as_str().into(),
            "--state-root".into(),
            self.config().state_root.clone().into(),
        ];
        let log = spec.state_dir.join("shim.log");
        match spawn_shim(self.config(), &args, &log).await {
            Ok(pid) => {
                tracing::info!(instance = %spec.name, backend = self.backend, pid, "guest started");
                Ok(pid)
            }
            Err(LaunchError::AlreadyRunning) => {
                Err(RuntimeError::AlreadyRunning(spec.name.clone()))
            }
            Err(e) => Err(self.failed(spec, e)),
        }
    }

    pub async fn exec(
        &self,
        name: &berth_types::InstanceName,
        spec: &crate::ExecSpec,
    ) -> Result<crate::ExecResult, RuntimeError> {
        use crate::local::exec::{self, ExecError};
        if let RuntimeStatus::Frozen { .. } = self.inner.status(name).await? {
            return Err(failed(name, "exec", "the instance is frozen"));
        }
        exec::run(self.config(), "enter", name.as_str(), spec)
            .await
            .map_err(|e| match e {
                ExecError::NotRunning => RuntimeError::NotRunning(name.clone()),
                ExecError::NotFound(cmd) => RuntimeError::CommandNotFound(cmd),
                ExecError::Timeout => RuntimeError::ExecTimeout(spec.timeout.as_secs()),
                ExecError::Failed(reason) => failed(name, "exec", reason),
            })
    }

    pub async fn open_terminal(
        &self,
        name: &berth_types::InstanceName,
        spec: &TerminalSpec,
    ) -> Result<TerminalSession, RuntimeError> {
        let pid = match self.inner.status(name).await? {
            RuntimeStatus::Running { pid } => pid,
            RuntimeStatus::Frozen { .. } => {
                return Err(failed(name, "terminal", "the instance is frozen"));
            }
            RuntimeStatus::Stopped => return Err(RuntimeError::NotRunning(name.clone())),
        };
        crate::local::terminal::open(self.config(), "enter", name.as_str(), pid, spec)
            .await
            .map_err(|e| failed(name, "terminal", e))
    }
}

fn failed(
    name: &berth_types::InstanceName,
    action: &'static str,
    e: impl std::fmt::Display,
) -> RuntimeError {
    RuntimeError::Failed {
        name: name.clone(),
        action,
        reason: e.to_string(),
    }
}

#[derive(Debug, thiserror::Error)]
enum PrepareError {
    #[error("already running")]
    Running,
    #[error(transparent)]
    Layout(#[from] berth_cgroups::LayoutError),
    #[error(transparent)]
    Cgroup(#[from] berth_cgroups::CgroupError),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Refuses a running guest, clears a dead one's leftovers, makes the guest's cgroups with
/// its limits and writes the plan.
fn prepare(
    paths: &Paths,
    limits: &berth_types::Limits,
    plan: &LaunchPlan,
) -> Result<(), PrepareError> {
    if paths.init().is_some() {
        return Err(PrepareError::Running);
    }
    let layout = Layout::detect()?;
    control::settle(paths, &layout);
    for dir in [&paths.dir, &plan.state_dir] {
        std::fs::create_dir_all(dir).map_err(|source| PrepareError::Io {
            path: dir.clone(),
            source,
        })?;
    }
    berth_cgroups::create(
        &layout,
        &paths.name,
        limits,
        crate::local::security::DEVICE_RULES,
    )?;
    let path = plan_path(paths);
    let text = serde_json::to_vec_pretty(plan).unwrap_or_default();
    std::fs::write(&path, text).map_err(|source| PrepareError::Io { path, source })
}

fn plan_path(paths: &Paths) -> PathBuf {
    paths.dir.join("launch.json")
}

/// Implements the `Runtime` methods a host-tool backend shares with the builtin one by
/// delegating to `self.host` (a [`Supervised`]).
macro_rules! delegate_to_host {
    () => {
        async fn stop(
            &self,
            name: &berth_types::InstanceName,
            timeout: std::time::Duration,
        ) -> Result<(), $crate::RuntimeError> {
            tracing::info!(instance = %name, backend = self.host.backend, ?timeout, "stopping");
            self.host.inner.stop(name, timeout).await
        }
        async fn kill(&self, name: &berth_types::InstanceName) -> Result<(), $crate::RuntimeError> {
            self.host.inner.kill(name).await
        }
        async fn freeze(&self, name: &berth_types::InstanceName) -> Result<(), $crate::RuntimeError> {
            self.host.inner.freeze(name).await
        }
        async fn thaw(&self, name: &berth_types::InstanceName) -> Result<(), $crate::RuntimeError> {
            self.host.inner.thaw(name).await
        }
        async fn status(
            &self,
            name: &berth_types::InstanceName,
        ) -> Result<$crate::RuntimeStatus, $crate::RuntimeError> {
            self.host.inner.status(name).await
        }
        async fn exec(
            &self,
            name: &berth_types::InstanceName,
            exec: &$crate::ExecSpec,
        ) -> Result<$crate::ExecResult, $crate::RuntimeError> {
            self.host.exec(name, exec).await
        }
        async fn open_terminal(
            &self,
            name: &berth_types::InstanceName,
            spec: &$crate::TerminalSpec,
        ) -> Result<$crate::TerminalSession, $crate::RuntimeError> {
            self.host.open_terminal(name, spec).await
        }
        async fn attach_console(
            &self,
            name: &berth_types::InstanceName,
        ) -> Result<$crate::TerminalSession, $crate::RuntimeError> {
            self.host.inner.attach_console(name).await
        }
        async fn update_limits(
            &self,
            name: &berth_types::InstanceName,
            limits: &berth_types::Limits,
        ) -> Result<(), $crate::RuntimeError> {
            self.host.inner.update_limits(name, limits).await
        }
        async fn remove(&self, name: &berth_types::InstanceName) -> Result<(), $crate::RuntimeError> {
            self.host.inner.remove(name).await
        }
    };
}
pub(crate) use delegate_to_host;
