//! The engine of the host-tool backends (nspawn, oci; a VM's QEMU would be one more): the
//! supervisor runs the tool as its child with the console as its stdio — in the guest's
//! cgroups from its first instruction when the plan says so (`write("0")` to each
//! `cgroup.procs` between fork and exec) and in the prepared network namespace — and finds the
//! guest's init: the process in the guest's cgroup that is pid 1 of its own pid namespace and
//! no longer runs the tool's binary, so a failed setup is a failed start, not a ready one. When
//! the tool exits, anything of the guest left is killed; some exit codes mean a reboot.

use std::fs;
use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use berth_cgroups::Layout;

use super::console::Console;
use super::plan::ToolPlan;
use super::state::{Paths, Proc};
use super::supervisor::{Ended, Engine, EngineError, Guest};

/// How long the tool may take to start the guest's init.
const INIT_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, thiserror::Error)]
pub enum ToolEngineError {
    #[error("{0}")]
    Plan(String),
    #[error(transparent)]
    Cgroup(#[from] berth_cgroups::CgroupError),
    #[error("cannot run {program}: {source}")]
    Spawn {
        program: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{program} exited ({status}) before the guest's init ran; see shim.log")]
    EarlyExit { program: String, status: String },
    #[error("{0} started no init within 30 s")]
    NoInit(String),
    #[error("private mount namespace: {0}")]
    Namespace(nix::Error),
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// A host tool run by the supervisor.
pub struct ToolEngine {
    plan: ToolPlan,
    /// The running tool.
    child: Option<Child>,
}

impl ToolEngine {
    pub fn new(plan: ToolPlan) -> Self {
        Self { plan, child: None }
    }
}

impl Engine for ToolEngine {
    fn prepare(&mut self) -> Result<(), EngineError> {
        if self.plan.hide_unified {
            hide_unified()?;
        }
        Ok(())
    }

    fn start(&mut self, guest: &Guest<'_>) -> Result<Proc, EngineError> {
        let name = &guest.paths.name;
        let mut child = spawn_tool(&self.plan, guest.layout, name, guest.console)?;
        let program = self.plan.argv.first().map_or("", String::as_str);
        match wait_init(&mut child, guest.layout, name, program) {
            Ok(init) => {
                self.child = Some(child);
                Ok(init)
            }
            Err(e) => {
                let _ = child.kill();
                let _ = child.wait();
                Err(e.into())
            }
        }
    }

    fn wait(&mut self, _guest: &Guest<'_>, init: Proc) -> Result<Ended, EngineError> {
        let Some(mut child) = self.child.take() else {
            return Err("no tool runs".into());
        };
        let status = child.wait()?;
        reap_orphans();
        // The tool is gone; nothing of its guest may outlive it.
        if init.alive() {
            // SAFETY: kill(2) has no memory-safety preconditions; `init` was just checked.
            unsafe { libc::kill(init.pid, libc::SIGKILL) };
            init.wait_gone(Duration::from_secs(10));
        }
        Ok(Ended {
            reboot: status
                .code()
                .is_some_and(|c| self.plan.reboot_codes.contains(&c)),
            how: status.to_string(),
        })
    }

    fn clean(&mut self, _paths: &Paths, _layout: Option<&Layout>) {
        run_cleanup(&self.plan);
    }
}

/// A mount namespace of our own without the hybrid cgroup2 mount.
fn hide_unified() -> Result<(), ToolEngineError> {
    use nix::mount::{MntFlags, MsFlags, mount, umount2};
    nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNS).map_err(ToolEngineError::Namespace)?;
    mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_REC | MsFlags::MS_PRIVATE,
        None::<&str>,
    )
    .map_err(ToolEngineError::Namespace)?;
    let unified = std::path::Path::new("/sys/fs/cgroup/unified");
    if unified.exists() {
        umount2(unified, MntFlags::MNT_DETACH).map_err(ToolEngineError::Namespace)?;
    }
    Ok(())
}

/// Runs the tool with the console as stdin/stdout and the shim log as stderr, in the
/// guest's cgroups from its first instruction.
fn spawn_tool(
    plan: &ToolPlan,
    layout: &Layout,
    name: &str,
    console: &Console,
) -> Result<Child, ToolEngineError> {
    let (program, args) = plan
        .argv
        .split_first()
        .ok_or_else(|| ToolEngineError::Plan("empty argv".into()))?;
    let joins = if plan.join_cgroups {
        berth_cgroups::join_files(layout, name)?
    } else {
        Vec::new()
    };
    let fds: Vec<i32> = joins.iter().map(AsRawFd::as_raw_fd).collect();
    let netns = match &plan.netns {
        Some(path) => Some(std::fs::File::open(path)?),
        None => None,
    };
    let netns_fd = netns.as_ref().map(AsRawFd::as_raw_fd);
    let slave = |c: &Console| c.slave_fd().map(Stdio::from);
    let mut cmd = Command::new(program);
    cmd.args(args)
        .stdin(slave(console)?)
        .stdout(slave(console)?)
        .env_remove("BERTH_SHIM_LOG");
    // SAFETY: the closure runs between fork and exec and only calls write(2) and setns(2),
    // which are async-signal-safe, on descriptors `joins` and `netns` keep open until the
    // spawn returns.
    unsafe {
        use std::os::unix::process::CommandExt;
        cmd.pre_exec(move || {
            if let Some(fd) = netns_fd
                && libc::setns(fd, libc::CLONE_NEWNET) < 0
            {
                return Err(std::io::Error::last_os_error());
            }
            for fd in &fds {
                if libc::write(*fd, b"0".as_ptr().cast(), 1) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            Ok(())
        });
    }
    let child = cmd.spawn().map_err(|source| ToolEngineError::Spawn {
        program: program.clone(),
        source,
    })?;
    drop(joins);
    drop(netns);
    Ok(child)
}

/// Polls the guest's cgroup for its init while the tool runs.
fn wait_init(
    child: &mut Child,
    layout: &Layout,
    name: &str,
    program: &str,
) -> Result<Proc, ToolEngineError> {
    let deadline = Instant::now() + INIT_TIMEOUT;
    loop {
        // The tool's own process is pid 1 of the new namespace before it execs the guest's
        // init; only the exec'd one counts, so a failing setup is reported as a failure.
        if let Some(pid) = find_init(layout, name)
            && let Some(init) = Proc::of(pid)
            && !runs_program(pid, program)
        {
            return Ok(init);
        }
        if let Some(status) = child.try_wait()? {
            return Err(ToolEngineError::EarlyExit {
                program: program.to_owned(),
                status: status.to_string(),
            });
        }
        if Instant::now() > deadline {
            return Err(ToolEngineError::NoInit(program.to_owned()));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Whether `pid` still runs the tool's own binary.
fn runs_program(pid: i32, program: &str) -> bool {
    let exe = std::fs::read_link(format!("/proc/{pid}/exe")).unwrap_or_default();
    let tool = std::fs::canonicalize(program).unwrap_or_else(|_| program.into());
    exe == tool
}

/// Reaps any exited process handed to us as subreaper, without blocking.
fn reap_orphans() {
    use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
    while let Ok(status) = waitpid(None, Some(WaitPidFlag::WNOHANG)) {
        if status == WaitStatus::StillAlive {
            break;
        }
    }
}

fn run_cleanup(plan: &ToolPlan) {
    let Some((program, args)) = plan.cleanup.as_ref().and_then(|c| c.split_first()) else {
        return;
    };
    match Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .status()
    {
        Ok(s) if s.success() => {}
        Ok(s) => tracing::warn!(program, %s, "tool cleanup failed"),
        Err(e) => tracing::warn!(program, "tool cleanup: {e}"),
    }
}

/// The host pid of the guest's init: the process in the guest's cgroup (or below) that is
/// pid 1 of a pid namespace of its own.
fn find_init(layout: &Layout, name: &str) -> Option<i32> {
    let dir = layout.controller_dir("pids", name).ok()?;
    let mut pending: Vec<PathBuf> = vec![dir];
    while let Some(dir) = pending.pop() {
        let procs = fs::read_to_string(dir.join("cgroup.procs")).unwrap_or_default();
        for pid in procs.lines().filter_map(|l| l.trim().parse::<i32>().ok()) {
            if is_namespace_init(pid) {
                return Some(pid);
            }
        }
        for entry in fs::read_dir(&dir).into_iter().flatten().flatten() {
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                pending.push(entry.path());
            }
        }
    }
    None
}

/// Whether `pid`'s innermost pid (the last `NSpid` field) is 1 in a nested namespace.
fn is_namespace_init(pid: i32) -> bool {
    let Ok(status) = fs::read_to_string(format!("/proc/{pid}/status")) else {
        return false;
    };
    status
        .lines()
        .find_map(|l| l.strip_prefix("NSpid:"))
        .is_some_and(|ids| {
            let ids: Vec<&str> = ids.split_whitespace().collect();
            ids.len() > 1 && ids.last() == Some(&"1")
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_no_namespace_init() {
        assert!(!is_namespace_init(std::process::id() as i32));
    }
}
