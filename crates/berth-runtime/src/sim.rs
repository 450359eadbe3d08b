//! A simulated backend: keeps guest states in memory so API and operation tests run fast.
//! It runs nothing; `exec` answers only `true`, `false` and `echo` so callers can test plumbing.
//! Everything around the guest is real: Berth prepares its root filesystem on local storage
//! (image → clone → configure) and records its addresses, so the fast test tier walks every
//! step of every operation, and every undo.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI32, Ordering};
use std::time::Duration;

use berth_types::{InstanceName, Limits};

use crate::{
    Capabilities, ContainerSpec, ExecResult, ExecSpec, MetricsSource, NetworkMode, Runtime,
    RuntimeError, RuntimeStatus, TerminalSession, TerminalSpec,
};

#[derive(Default)]
pub struct SimRuntime {
    guests: Mutex<BTreeMap<InstanceName, RuntimeStatus>>,
    next_pid: AtomicI32,
}

impl SimRuntime {
    pub fn new() -> Self {
        Self {
            guests: Mutex::default(),
            next_pid: AtomicI32::new(1000),
        }
    }

    fn with_guests<T>(&self, f: impl FnOnce(&mut BTreeMap<InstanceName, RuntimeStatus>) -> T) -> T {
        let mut guests = self
            .guests
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        f(&mut guests)
    }

    fn running_pid(&self, name: &InstanceName) -> Result<i32, RuntimeError> {
        self.with_guests(|g| match g.get(name) {
            Some(RuntimeStatus::Running { pid }) => Ok(*pid),
            _ => Err(RuntimeError::NotRunning(name.clone())),
        })
    }
}

impl Runtime for SimRuntime {
    fn name(&self) -> &'static str {
        "sim"
    }

    fn check_usable(&self) -> Result<(), String> {
        Ok(())
    }

    /// A local backend whose guests are plugged in nowhere and sampled by no one.
    fn capabilities(&self) -> Capabilities {
        Capabilities {
            network: NetworkMode::Recorded,
            metrics: MetricsSource::Nothing,
            ..Capabilities::LOCAL
        }
    }

    async fn start(&self, spec: &ContainerSpec) -> Result<i32, RuntimeError> {
        let pid = self.next_pid.fetch_add(1, Ordering::Relaxed);
        self.with_guests(|g| match g.get(&spec.name) {
            Some(RuntimeStatus::Running { .. } | RuntimeStatus::Frozen { .. }) => {
                Err(RuntimeError::AlreadyRunning(spec.name.clone()))
            }
            _ => {
                g.insert(spec.name.clone(), RuntimeStatus::Running { pid });
                Ok(pid)
            }
        })
    }

    async fn stop(&self, name: &InstanceName, _timeout: Duration) -> Result<(), RuntimeError> {
        self.kill(name).await
    }

    async fn kill(&self, name: &InstanceName) -> Result<(), RuntimeError> {
        self.with_guests(|g| g.insert(name.clone(), RuntimeStatus::Stopped));
        Ok(())
    }

    async fn freeze(&self, name: &InstanceName) -> Result<(), RuntimeError> {
        let pid = self.running_pid(name)?;
        self.with_guests(|g| g.insert(name.clone(), RuntimeStatus::Frozen { pid }));
        Ok(())
    }

    async fn thaw(&self, name: &InstanceName) -> Result<(), RuntimeError> {
        self.with_guests(|g| match g.get(name).copied() {
            Some(RuntimeStatus::Frozen { pid }) => {
                g.insert(name.clone(), RuntimeStatus::Running { pid });
                Ok(())
            }
            _ => Err(RuntimeError::NotRunning(name.clone())),
        })
    }

    async fn status(&self, name: &InstanceName) -> Result<RuntimeStatus, RuntimeError> {
        Ok(self.with_guests(|g| g.get(name).copied().unwrap_or(RuntimeStatus::Stopped)))
    }

    async fn exec(&self, name: &InstanceName, exec: &ExecSpec) -> Result<ExecResult, RuntimeError> {
        self.running_pid(name)?;
        let (program, args) = exec
            .argv
            .split_first()
            .ok_or_else(|| RuntimeError::CommandNotFound(String::new()))?;
        let (exit_code, stdout) = match program.as_str() {
            "true" => (0, Vec::new()),
            "false" => (1, Vec::new()),
            "echo" => (0, format!("{}\n", args.join(" ")).into_bytes()),
            other => return Err(RuntimeError::CommandNotFound(other.to_owned())),
        };
        Ok(ExecResult {
            exit_code,
            stdout,
            stderr: Vec::new(),
            truncated: false,
        })
    }

    async fn attach_console(&self, name: &InstanceName) -> Result<TerminalSession, RuntimeError> {
        self.running_pid(name)?;
        Err(RuntimeError::Unusable {
            backend: "sim",
            reason: "the simulated backend has no console".into(),
        })
    }

    async fn open_terminal(
        &self,
        name: &InstanceName,
        _spec: &TerminalSpec,
    ) -> Result<TerminalSession, RuntimeError> {
        self.running_pid(name)?;
        Err(RuntimeError::Unusable {
            backend: "sim",
            reason: "the simulated backend has no terminals".into(),
        })
    }

    async fn update_limits(
        &self,
        _name: &InstanceName,
        _limits: &Limits,
    ) -> Result<(), RuntimeError> {
        Ok(())
    }

    async fn remove(&self, name: &InstanceName) -> Result<(), RuntimeError> {
        self.with_guests(|g| g.remove(name));
        Ok(())
    }
}
