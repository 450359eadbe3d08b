//! The lxc backend: LXC through its tools (`lxc-start`, `lxc-stop`, `lxc-info`, `lxc-attach`,
//! `lxc-freeze`, `lxc-console`) with a config Berth writes into a Berth-owned lxcpath
//! (`-P`), including LXC's common.conf. The guest joins the network namespace berthd prepared
//! (`lxc.namespace.share.net`), so Berth's bridge, IPAM and forwards apply and lxc-net /
//! lxcbr0 are never needed; its cgroup is Berth's `/berth/<name>` (`lxc.cgroup.dir`).
//! LXC's own monitor keeps the guest, so it outlives berthd.

mod attach;
mod config;
mod info;
mod unpriv;

use std::path::{Path, PathBuf};
use std::time::Duration;

use berth_cgroups::{self as cgroup, Layout};
use berth_types::{InstanceName, Limits};

use crate::local::probe;
use crate::local::tools::{self, ToolError};
use crate::{
    ContainerSpec, ExecResult, ExecSpec, Runtime, RuntimeError, RuntimeStatus, TerminalSession,
    TerminalSpec,
};
use info::{log_tail, parse_info, tool_message};

/// How long `lxc-start`, `lxc-info` and friends may take (not the guest's shutdown).
const TOOL_TIMEOUT: Duration = Duration::from_secs(60);
/// Output kept of a tool's own messages.
const TOOL_OUTPUT: usize = 64 << 10;

/// Sends the halt signal to a guest's init every `control::RESEND_EVERY` until it went to an
/// init that hears it (blocks or catches it), or until dropped.
struct ResendHalt(Option<tokio::task::JoinHandle<()>>);

impl ResendHalt {
    fn start(pid: i32) -> Self {
        // With its start time, so a reused pid is never signalled.
        let Some(init) = crate::local::state::Proc::of(pid) else {
            return Self(None);
        };
        Self(Some(tokio::spawn(async move {
            loop {
                tokio::time::sleep(crate::local::control::RESEND_EVERY).await;
                if !init.alive() {
                    return;
                }
                let halt = libc::SIGRTMIN() + 3;
                let heard = crate::local::state::Proc::hears(init.pid, halt);
                if let Err(e) = crate::local::control::signal(init, halt) {
                    tracing::debug!(pid = init.pid, "resending the halt signal: {e}");
                    return;
                }
                if heard {
                    return; // it was heard this time; the guest is shutting down
                }
            }
        })))
    }
}

impl Drop for ResendHalt {
    fn drop(&mut self) {
        if let Some(task) = self.0.take() {
            task.abort();
        }
    }
}

pub struct LxcRuntime {
    /// The Berth-owned lxcpath: `<lxcpath>/<name>/config` per guest.
    lxcpath: PathBuf,
}

impl LxcRuntime {
    pub fn new(lxcpath: PathBuf) -> Self {
        Self { lxcpath }
    }

    fn dir(&self, name: &InstanceName) -> PathBuf {
        self.lxcpath.join(name.as_str())
    }

    fn program(tool: &str) -> Result<PathBuf, RuntimeError> {
        probe::require(tool, "lxc").map_err(|reason| RuntimeError::Unusable {
            backend: "lxc",
            reason,
        })
    }

    /// Runs `lxc-<tool> -P … -n name args…`; fails with its stderr unless it exits 0.
    async fn run(
        &self,
        name: &InstanceName,
        action: &'static str,
        tool: &str,
        args: &[&str],
    ) -> Result<ExecResult, RuntimeError> {
        let out = self.run_any(name, action, tool, args).await?;
        if out.exit_code != 0 {
            return Err(failed(name, action, tool_message(tool, &out)));
        }
        Ok(out)
    }

    /// Runs the tool and returns whatever it answered.
    async fn run_any(
        &self,
        name: &InstanceName,
        action: &'static str,
        tool: &str,
        args: &[&str],
    ) -> Result<ExecResult, RuntimeError> {
        let cmd = tools::command(&Self::program(tool)?, &self.lxcpath, name.as_str(), args);
        tools::collect(cmd, None, TOOL_OUTPUT, TOOL_TIMEOUT)
            .await
            .map_err(|e| failed(name, action, e))
    }

    async fn running_pid(
        &self,
        name: &InstanceName,
        action: &'static str,
    ) -> Result<i32, RuntimeError> {
        match self.status(name).await? {
            RuntimeStatus::Running { pid } => Ok(pid),
            RuntimeStatus::Frozen { .. } => Err(failed(name, action, "the instance is frozen")),
            RuntimeStatus::Stopped => Err(RuntimeError::NotRunning(name.clone())),
        }
    }
}

fn failed(name: &InstanceName, action: &'static str, e: impl std::fmt::Display) -> RuntimeError {
    RuntimeError::Failed {
        name: name.clone(),
        action,
        reason: e.to_string(),
    }
}

impl Runtime for LxcRuntime {
    fn name(&self) -> &'static str {
        "lxc"
    }

    fn check_usable(&self) -> Result<(), String> {
        probe::local_host()?;
        for tool in [
            "lxc-start",
            "lxc-stop",
            "lxc-info",
            "lxc-attach",
            "lxc-freeze",
        ] {
            probe::require(tool, "lxc")?;
        }
        if !Path::new(config::COMMON_CONF).exists() {
            return Err(format!(
                "{}: missing (apt-get install lxc)",
                config::COMMON_CONF
            ));
        }
        Ok(())
    }

    async fn start(&self, spec: &ContainerSpec) -> Result<i32, RuntimeError> {
        let name = &spec.name;
        if !matches!(self.status(name).await?, RuntimeStatus::Stopped) {
            return Err(RuntimeError::AlreadyRunning(name.clone()));
        }
        let layout = Layout::detect().map_err(|e| failed(name, "start", e))?;
        // A dead guest's cgroups would make LXC refuse the directory.
        let _ = cgroup::prune(&layout, name.as_str());
        let dir = self.dir(name);
        for d in [&dir, &spec.state_dir] {
            std::fs::create_dir_all(d)
                .map_err(|e| failed(name, "start", format!("{}: {e}", d.display())))?;
        }
        // The guest's CPUs, chosen as for every local backend; on cgroup v2 the controller
        // is enabled for `/berth` first, so LXC can write `cpuset.cpus`.
        let cpus = cgroup::cpuset::pick(&layout, name.as_str(), spec.limits.cpu)
            .and_then(|cpus| cgroup::cpuset::delegate(&layout).map(|()| cpus))
            .map_err(|e| failed(name, "start", e))?;
        let mut text = config::generate(
            spec,
            &layout,
            cpus.as_deref(),
            Path::new(config::COMMON_CONF),
        );
        let root = match spec.security.idmap {
            Some(range) => {
                let seccomp = dir.join("seccomp");
                std::fs::write(&seccomp, unpriv::seccomp_policy(spec.security.nesting))
                    .map_err(|e| failed(name, "start", format!("{}: {e}", seccomp.display())))?;
                let target = dir.join("rootfs");
                text.push_str(&unpriv::config(spec, range, &target, &seccomp));
                let root = unpriv::IdmappedRoot::prepare(&spec.rootfs, target, range)
                    .map_err(|e| failed(name, "start", e))?;
                Some(root)
            }
            None => None,
        };
        let path = dir.join("config");
        std::fs::write(&path, text)
            .map_err(|e| failed(name, "start", format!("{}: {e}", path.display())))?;
        let log = spec.state_dir.join("lxc.log");
        let log_arg = log.display().to_string();
        let mut cmd = tools::command(
            &Self::program("lxc-start")?,
            &self.lxcpath,
            name.as_str(),
            &["-d", "-o", &log_arg, "-l", "INFO"],
        );
        if let Some(root) = &root {
            root.apply(&mut cmd);
        }
        let out = tools::collect(cmd, None, TOOL_OUTPUT, TOOL_TIMEOUT)
            .await
            .map_err(|e| failed(name, "start", e))?;
        drop(root);
        if out.exit_code != 0 {
            let why = log_tail(&log);
            return Err(failed(
                name,
                "start",
                format!("{}; {why}", tool_message("lxc-start", &out)),
            ));
        }
        let secs = TOOL_TIMEOUT.as_secs().to_string();
        self.run(name, "start", "lxc-wait", &["-s", "RUNNING", "-t", &secs])
            .await?;
        match self.status(name).await? {
            RuntimeStatus::Running { pid } => {
                tracing::info!(instance = %name, pid, "lxc guest started");
                Ok(pid)
            }
            _ => Err(failed(
                name,
                "start",
                format!("the guest stopped at once; {}", log_tail(&log)),
            )),
        }
    }

    async fn stop(&self, name: &InstanceName, timeout: Duration) -> Result<(), RuntimeError> {
        tracing::info!(instance = %name, ?timeout, "stopping");
        let pid = match self.status(name).await? {
            RuntimeStatus::Stopped => return Ok(()),
            RuntimeStatus::Frozen { pid } => {
                self.thaw(name).await?;
                pid
            }
            RuntimeStatus::Running { pid } => pid,
        };
        let secs = timeout.as_secs().max(1).to_string();
        // lxc-stop sends lxc.signal.halt (SIGRTMIN+3) once and kills the guest after the
        // timeout; a guest stopped right after it started drops that one (no handler yet), so
        // the signal goes again while lxc-stop waits.
        let _resend = ResendHalt::start(pid);
        let cmd = tools::command(
            &Self::program("lxc-stop")?,
            &self.lxcpath,
            name.as_str(),
            &["-t", &secs],
        );
        let out = tools::collect(cmd, None, TOOL_OUTPUT, timeout + TOOL_TIMEOUT)
            .await
            .map_err(|e| failed(name, "stop", e))?;
        match self.status(name).await? {
            RuntimeStatus::Stopped => Ok(()),
            _ => Err(failed(name, "stop", tool_message("lxc-stop", &out))),
        }
    }

    async fn kill(&self, name: &InstanceName) -> Result<(), RuntimeError> {
        if let RuntimeStatus::Stopped = self.status(name).await? {
            return Ok(());
        }
        let out = self.run_any(name, "kill", "lxc-stop", &["-k"]).await?;
        match self.status(name).await? {
            RuntimeStatus::Stopped => Ok(()),
            _ => Err(failed(name, "kill", tool_message("lxc-stop", &out))),
        }
    }

    async fn freeze(&self, name: &InstanceName) -> Result<(), RuntimeError> {
        self.running_pid(name, "freeze").await?;
        self.run(name, "freeze", "lxc-freeze", &[])
            .await
            .map(|_| ())
    }

    async fn thaw(&self, name: &InstanceName) -> Result<(), RuntimeError> {
        if let RuntimeStatus::Stopped = self.status(name).await? {
            return Err(RuntimeError::NotRunning(name.clone()));
        }
        self.run(name, "thaw", "lxc-unfreeze", &[])
            .await
            .map(|_| ())
    }

    async fn status(&self, name: &InstanceName) -> Result<RuntimeStatus, RuntimeError> {
        if !self.dir(name).join("config").exists() {
            return Ok(RuntimeStatus::Stopped);
        }
        let out = self
            .run_any(name, "status", "lxc-info", &["-s", "-p"])
            .await?;
        Ok(parse_info(&String::from_utf8_lossy(&out.stdout)))
    }

    async fn exec(&self, name: &InstanceName, exec: &ExecSpec) -> Result<ExecResult, RuntimeError> {
        self.running_pid(name, "exec").await?;
        let program = exec
            .argv
            .first()
            .ok_or_else(|| RuntimeError::CommandNotFound(String::new()))?
            .clone();
        let cmd = self.attach_command(name, &exec.argv, &exec.env, exec.cwd.as_deref())?;
        let out = tools::collect(cmd, exec.stdin.as_deref(), exec.output_cap, exec.timeout)
            .await
            .map_err(|e| match e {
                ToolError::Timeout { .. } => RuntimeError::ExecTimeout(exec.timeout.as_secs()),
                other => failed(name, "exec", other),
            })?;
        // lxc-attach reports a missing program on its stderr and exits 127 (or 1 from older
        // versions); the guest's own 127 has no such line.
        let stderr = String::from_utf8_lossy(&out.stderr);
        if (out.exit_code == 127 || out.exit_code == 1)
            && stderr.contains("Failed to exec")
            && stderr.contains("lxc-attach")
        {
            return Err(RuntimeError::CommandNotFound(program));
        }
        Ok(out)
    }

    async fn open_terminal(
        &self,
        name: &InstanceName,
        spec: &TerminalSpec,
    ) -> Result<TerminalSession, RuntimeError> {
        self.running_pid(name, "terminal").await?;
        let env: std::collections::BTreeMap<String, String> = spec.env.iter().cloned().collect();
        let cmd = self.attach_command(name, &spec.argv, &env, spec.cwd.as_deref())?;
        tools::on_pty(cmd, spec.rows, spec.cols).map_err(|e| failed(name, "terminal", e))
    }

    async fn attach_console(&self, name: &InstanceName) -> Result<TerminalSession, RuntimeError> {
        self.running_pid(name, "console").await?;
        // lxc-console's escape is Ctrl-a q; it relays the guest's /dev/console.
        let cmd = tools::command(
            &Self::program("lxc-console")?,
            &self.lxcpath,
            name.as_str(),
            &["-t", "0"],
        );
        tools::on_pty(cmd, 24, 80).map_err(|e| failed(name, "console", e))
    }

    async fn update_limits(
        &self,
        name: &InstanceName,
        limits: &Limits,
    ) -> Result<(), RuntimeError> {
        self.running_pid(name, "update limits").await?;
        let (name2, limits) = (name.clone(), *limits);
        tokio::task::spawn_blocking(move || {
            let layout = Layout::detect().map_err(|e| e.to_string())?;
            cgroup::apply_limits(&layout, name2.as_str(), &limits).map_err(|e| e.to_string())
        })
        .await
        .map_err(|e| failed(name, "update limits", e))?
        .map_err(|e| failed(name, "update limits", e))
    }

    async fn remove(&self, name: &InstanceName) -> Result<(), RuntimeError> {
        self.kill(name).await?;
        let dir = self.dir(name);
        match std::fs::remove_dir_all(&dir) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(failed(name, "remove", format!("{}: {e}", dir.display()))),
        }
        let name2 = name.clone();
        tokio::task::spawn_blocking(move || {
            let layout = Layout::detect().map_err(|e| e.to_string())?;
            cgroup::prune(&layout, name2.as_str()).map_err(|e| e.to_string())?;
            for d in layout.dirs(name2.as_str()) {
                if let Some(root) = d.parent().and_then(Path::parent) {
                    let _ =
                        std::fs::remove_dir(root.join(config::MONITOR_PARENT).join(name2.as_str()));
                    let _ = std::fs::remove_dir(root.join(config::MONITOR_PARENT));
                }
            }
            Ok::<(), String>(())
        })
        .await
        .map_err(|e| failed(name, "remove", e))?
        .map_err(|e| failed(name, "remove", e))
    }
}
