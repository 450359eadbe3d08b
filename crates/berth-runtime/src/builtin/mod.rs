//! The builtin backend: youki's libcontainer, run from one `shim` supervisor process per guest.
//!
//! `start` writes an OCI bundle and spawns a detached shim (`berth-shim run` or `berthd shim
//! run`) that forks the guest with libcontainer, reports init's pid and lives until init exits,
//! then cleans up. Everything else works from files under `state_root` and the cgroup tree, so
//! a restarted daemon finds its guests again; nothing here forks inside the daemon except the
//! shim and the short-lived `exec` helper.
//!
//! Files: the bundle (`config.json`), `shim.log` and `console.log` (the guest's `/dev/console`)
//! in `ContainerSpec::state_dir`; `shim.pid`, `init.pid` (pid and start time), `shim.lock` and
//! the `stopping` marker in `state_root/<name>/`; libcontainer's state in
//! `state_root/youki/<name>/`. The guest's cgroup is `/berth/<name>` in every hierarchy.

pub(crate) mod launch;
pub(crate) mod shim;

use std::path::PathBuf;
use std::time::Duration;

use berth_types::{InstanceName, Limits};

use crate::{TerminalSession, TerminalSpec};

pub use shim::shim_main;

use crate::local::state::Paths;
use crate::local::{LocalConfig, control, exec, terminal};
use crate::{ContainerSpec, ExecResult, ExecSpec, Runtime, RuntimeError, RuntimeStatus};

pub struct BuiltinRuntime {
    config: LocalConfig,
}

impl BuiltinRuntime {
    pub fn new(config: LocalConfig) -> Self {
        Self { config }
    }

    pub fn config(&self) -> &LocalConfig {
        &self.config
    }

    fn paths(&self, name: &InstanceName) -> Paths {
        Paths::new(&self.config.state_root, name.as_str())
    }

    /// Runs a blocking control function off the executor and maps its error.
    async fn blocking<T: Send + 'static>(
        &self,
        name: &InstanceName,
        action: &'static str,
        f: impl FnOnce(&Paths) -> Result<T, control::ControlError> + Send + 'static,
    ) -> Result<T, RuntimeError> {
        let paths = self.paths(name);
        let joined = tokio::task::spawn_blocking(move || f(&paths)).await;
        let result = joined.map_err(|e| failed(name, action, e))?;
        result.map_err(|e| match e {
            control::ControlError::NotRunning => RuntimeError::NotRunning(name.clone()),
            other => {
                tracing::warn!(instance = %name, action, "{other}");
                failed(name, action, other)
            }
        })
    }
}

fn failed(name: &InstanceName, action: &'static str, e: impl std::fmt::Display) -> RuntimeError {
    RuntimeError::Failed {
        name: name.clone(),
        action,
        reason: e.to_string(),
    }
}

impl Runtime for BuiltinRuntime {
    fn name(&self) -> &'static str {
        "builtin"
    }

    fn check_usable(&self) -> Result<(), String> {
        if !nix::unistd::geteuid().is_root() {
            return Err("the builtin runtime needs root".into());
        }
        let layout = berth_cgroups::Layout::detect().map_err(|e| e.to_string())?;
        for controller in ["cpu", "memory", "pids", "freezer"] {
            layout
                .controller_dir(controller, "probe")
                .map_err(|e| e.to_string())?;
        }
        match &layout {
            berth_cgroups::Layout::V1(_) if layout.named_systemd().is_none() => {
                return Err(
                    "cgroup v1 without the name=systemd hierarchy cannot boot systemd".into(),
                );
            }
            berth_cgroups::Layout::V1(_) => {}
            berth_cgroups::Layout::V2(root) => {
                let path = root.join("cgroup.controllers");
                let have = std::fs::read_to_string(&path)
                    .map_err(|e| format!("{}: {e}", path.display()))?;
                let missing: Vec<&str> = ["cpu", "memory", "pids"]
                    .into_iter()
                    .filter(|c| !have.split_whitespace().any(|h| h == *c))
                    .collect();
                if !missing.is_empty() {
                    return Err(format!(
                        "cgroup2 controllers missing: {}",
                        missing.join(", ")
                    ));
                }
            }
        }
        match self.config.shim_command.first() {
            None => Err("no shim command configured".into()),
            Some(p) if PathBuf::from(p).is_absolute() && !PathBuf::from(p).exists() => {
                Err(format!("shim {} does not exist", p.to_string_lossy()))
            }
            Some(_) => Ok(()),
        }
    }

    async fn start(&self, spec: &ContainerSpec) -> Result<i32, RuntimeError> {
        launch::start(&self.config, spec)
            .await
            .map_err(|e| match e {
                launch::LaunchError::AlreadyRunning => {
                    RuntimeError::AlreadyRunning(spec.name.clone())
                }
                other => {
                    tracing::warn!(instance = %spec.name, "start: {other}");
                    failed(&spec.name, "start", other)
                }
            })
    }

    async fn stop(&self, name: &InstanceName, timeout: Duration) -> Result<(), RuntimeError> {
        tracing::info!(instance = %name, ?timeout, "stopping");
        self.blocking(name, "stop", move |p| control::stop(p, timeout))
            .await
    }

    async fn kill(&self, name: &InstanceName) -> Result<(), RuntimeError> {
        tracing::info!(instance = %name, "killing");
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
        // A command in a frozen guest would freeze too, until its timeout.
        if let RuntimeStatus::Frozen { .. } = self.status(name).await? {
            return Err(failed(name, "exec", "the instance is frozen"));
        }
        // `enter` (setns into init's namespaces and cgroups, init's bounding set, the seccomp
        // deny list) rather than libcontainer's tenant, which drops the seccomp filter.
        exec::run(&self.config, "enter", name.as_str(), spec)
            .await
            .map_err(|e| match e {
                exec::ExecError::NotRunning => RuntimeError::NotRunning(name.clone()),
                exec::ExecError::NotFound(cmd) => RuntimeError::CommandNotFound(cmd),
                exec::ExecError::Timeout => RuntimeError::ExecTimeout(spec.timeout.as_secs()),
                exec::ExecError::Failed(reason) => failed(name, "exec", reason),
            })
    }

    async fn open_terminal(
        &self,
        name: &InstanceName,
        spec: &TerminalSpec,
    ) -> Result<TerminalSession, RuntimeError> {
        let pid = match self.status(name).await? {
            RuntimeStatus::Running { pid } => pid,
            RuntimeStatus::Frozen { .. } => {
                return Err(failed(name, "terminal", "the instance is frozen"));
            }
            RuntimeStatus::Stopped => return Err(RuntimeError::NotRunning(name.clone())),
        };
        terminal::open(&self.config, "enter", name.as_str(), pid, spec)
            .await
            .map_err(|e| failed(name, "terminal", e.to_string()))
    }

    async fn attach_console(&self, name: &InstanceName) -> Result<TerminalSession, RuntimeError> {
        if let RuntimeStatus::Stopped = self.status(name).await? {
            return Err(RuntimeError::NotRunning(name.clone()));
        }
        let socket = Paths::new(&self.config.state_root, name.as_str()).console_socket();
        let stream = tokio::net::UnixStream::connect(&socket)
            .await
            .map_err(|e| failed(name, "console", format!("{}: {e}", socket.display())))?;
        Ok(TerminalSession::on_stream(stream))
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
