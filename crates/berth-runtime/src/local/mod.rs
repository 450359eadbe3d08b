//! What every local backend shares, and [`LocalRuntime`], which implements the `Runtime` trait
//! once for all of them on top of a [`Launcher`] (builtin, nspawn, oci).
//!
//! `start` has the launcher plan the guest's start and spawns one detached supervisor per
//! guest (`berthd shim run`, [`supervisor`]) that runs the plan's engine — libcontainer in
//! process, or a host tool — in the guest's cgroup `/berth/<name>`, reports init's pid and
//! lives until the guest is gone, then cleans up. Everything else works from files under
//! `state_root` and the cgroup tree ([`control`]), or through `berthd shim enter` ([`enter`])
//! and the supervisor's console socket, so a restarted berthd finds its guests again; nothing
//! forks inside berthd but the supervisor and the short-lived enter helper.
//!
//! Files: `shim.log`, `console.log` and any OCI bundle (`config.json`) in
//! `ContainerSpec::state_dir`; `launch.json`, `shim.pid`, `init.pid` (pid and start time),
//! `shim.lock`, `console.sock` and the `stopping` marker in `state_root/<name>/`; the engine's
//! own state in `state_root/youki/<name>/`.

pub mod console;
pub mod control;
pub mod enter;
pub mod exec;
pub mod guest;
pub mod invoke;
pub mod isolation;
pub mod launch;
pub mod launcher;
pub mod plan;
pub mod probe;
pub mod security;
pub mod shutdown;
pub mod spec;
pub mod state;
pub mod supervisor;
pub mod terminal;
pub mod tool_engine;
pub mod tools;
pub mod unpriv_tool;
pub mod userns_spec;

use std::ffi::OsString;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use berth_types::{InstanceName, Limits};

pub use guest::{Launch, RunningGuest};
pub use launcher::{Launcher, PlanError};
pub use plan::{EnginePlan, LaunchPlan, ToolPlan};

use crate::{
    ContainerSpec, ExecResult, ExecSpec, Runtime, RuntimeError, RuntimeStatus, TerminalSession,
    TerminalSpec,
};
use control::ControlError;
use launch::LaunchError;
use state::Paths;

/// Where a local backend keeps its state and how it runs its shim.
#[derive(Debug, Clone)]
pub struct LocalConfig {
    /// Runtime state: pid files and the engine's own state (e.g. `/run/berth/runtime`); each
    /// backend has its own.
    pub state_root: PathBuf,
    /// The argv prefix that runs the shim: `["/usr/bin/berthd", "shim"]` or
    /// `["/usr/lib/berth/berth-shim"]`; `run …` or `enter …` is appended.
    pub shim_command: Vec<OsString>,
}

/// A local backend: the shared lifecycle with `L`'s way of starting (and reaching) a guest.
pub struct LocalRuntime<L> {
    launcher: Arc<L>,
    config: LocalConfig,
}

fn failed(name: &InstanceName, action: &'static str, e: impl std::fmt::Display) -> RuntimeError {
    RuntimeError::Failed {
        name: name.clone(),
        action,
        reason: e.to_string(),
    }
}

impl<L: Launcher> LocalRuntime<L> {
    pub fn with_launcher(launcher: L, config: LocalConfig) -> Self {
        Self {
            launcher: Arc::new(launcher),
            config,
        }
    }

    pub fn config(&self) -> &LocalConfig {
        &self.config
    }

    pub fn launcher(&self) -> &L {
        &self.launcher
    }

    fn paths(&self, name: &InstanceName) -> Paths {
        Paths::new(&self.config.state_root, name.as_str())
    }

    /// Runs a blocking control function off the executor and maps its error.
    async fn blocking<T: Send + 'static>(
        &self,
        name: &InstanceName,
        action: &'static str,
        f: impl FnOnce(&Paths) -> Result<T, ControlError> + Send + 'static,
    ) -> Result<T, RuntimeError> {
        let paths = self.paths(name);
        let joined = tokio::task::spawn_blocking(move || f(&paths)).await;
        let result = joined.map_err(|e| failed(name, action, e))?;
        result.map_err(|e| match e {
            ControlError::NotRunning => RuntimeError::NotRunning(name.clone()),
            other => {
                tracing::warn!(instance = %name, backend = self.name(), action, "{other}");
                failed(name, action, other)
            }
        })
    }

    /// The guest if it runs (frozen too when `frozen_ok`), for exec, terminals and console.
    async fn running<'a>(
        &'a self,
        name: &'a InstanceName,
        paths: &'a Paths,
        action: &'static str,
        frozen_ok: bool,
    ) -> Result<RunningGuest<'a>, RuntimeError> {
        let init = match self.status(name).await? {
            RuntimeStatus::Running { pid } => pid,
            RuntimeStatus::Frozen { pid } if frozen_ok => pid,
            // A command in a frozen guest would freeze too, until its timeout.
            RuntimeStatus::Frozen { .. } => {
                return Err(failed(name, action, "the instance is frozen"));
            }
            RuntimeStatus::Stopped => return Err(RuntimeError::NotRunning(name.clone())),
        };
        Ok(RunningGuest {
            name,
            config: &self.config,
            paths,
            init,
        })
    }
}

impl<L: Launcher> Runtime for LocalRuntime<L> {
    fn name(&self) -> &'static str {
        self.launcher.name()
    }

    fn check_usable(&self) -> Result<(), String> {
        probe::local_host()?;
        probe::shim(&self.config)?;
        self.launcher.check_usable()
    }

    fn runtime_tools(&self) -> &'static [&'static str] {
        self.launcher.runtime_tools()
    }

    fn choose_runtime_tool(&self, asked: Option<&str>) -> Result<Option<&'static str>, String> {
        self.launcher.choose_runtime_tool(asked)
    }

    async fn start(&self, spec: &ContainerSpec) -> Result<i32, RuntimeError> {
        let started = launch::start(&self.config, self.launcher.clone(), spec).await;
        match started {
            Ok(pid) => {
                tracing::info!(instance = %spec.name, backend = self.name(), pid, "guest started");
                Ok(pid)
            }
            Err(LaunchError::AlreadyRunning) => {
                Err(RuntimeError::AlreadyRunning(spec.name.clone()))
            }
            Err(LaunchError::Plan(PlanError::Unusable(reason))) => Err(RuntimeError::Unusable {
                backend: self.name(),
                reason,
            }),
            Err(other) => {
                tracing::warn!(instance = %spec.name, backend = self.name(), "start: {other}");
                Err(failed(&spec.name, "start", other))
            }
        }
    }

    async fn stop(&self, name: &InstanceName, timeout: Duration) -> Result<(), RuntimeError> {
        tracing::info!(instance = %name, backend = self.name(), ?timeout, "stopping");
        let launcher = self.launcher.clone();
        self.blocking(name, "stop", move |p| {
            control::stop(p, timeout, |p, init| launcher.request_shutdown(p, init))
        })
        .await
    }

    async fn kill(&self, name: &InstanceName) -> Result<(), RuntimeError> {
        tracing::info!(instance = %name, backend = self.name(), "killing");
        self.blocking(name, "kill", control::kill).await
    }

    async fn freeze(&self, name: &InstanceName) -> Result<(), RuntimeError> {
        self.blocking(name, "freeze", |p| control::freeze(p, true))
            .await
    }

    async fn thaw(&self, name: &InstanceName) -> Result<(), RuntimeError> {
        self.blocking(name, "thaw", |p| control::freeze(p, false))
            .await
    }

    async fn status(&self, name: &InstanceName) -> Result<RuntimeStatus, RuntimeError> {
        self.blocking(name, "status", control::status).await
    }

    async fn exec(&self, name: &InstanceName, spec: &ExecSpec) -> Result<ExecResult, RuntimeError> {
        let paths = self.paths(name);
        let guest = self.running(name, &paths, "exec", false).await?;
        self.launcher.exec(&guest, spec).await
    }

    async fn open_terminal(
        &self,
        name: &InstanceName,
        spec: &TerminalSpec,
    ) -> Result<TerminalSession, RuntimeError> {
        let paths = self.paths(name);
        let guest = self.running(name, &paths, "terminal", false).await?;
        self.launcher.open_terminal(&guest, spec).await
    }

    async fn attach_console(&self, name: &InstanceName) -> Result<TerminalSession, RuntimeError> {
        let paths = self.paths(name);
        let guest = self.running(name, &paths, "console", true).await?;
        self.launcher.attach_console(&guest).await
    }

    async fn update_limits(
        &self,
        name: &InstanceName,
        limits: &Limits,
    ) -> Result<(), RuntimeError> {
        let limits = *limits;
        self.blocking(name, "update limits", move |p| {
            control::update_limits(p, &limits)
        })
        .await
    }

    async fn remove(&self, name: &InstanceName) -> Result<(), RuntimeError> {
        self.blocking(name, "remove", control::remove).await
    }
}
