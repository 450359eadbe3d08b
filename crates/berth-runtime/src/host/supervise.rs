//! `berth-shim tool`: the per-guest supervisor of a host-tool backend. It detaches from the
//! daemon (fork + setsid), serves the guest's console, runs the tool in the guest's cgroups,
//! reports the guest's init once it is there, waits for the tool (running it again when the
//! guest rebooted) and cleans up after it: tool state, cgroups, pid files.

use std::io::Write;
use std::os::fd::AsRawFd;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nix::unistd::dup2;

use super::{LaunchPlan, cgroups, plan_path};
use crate::builtin::shim::detached;
use crate::local::console::{self, Console};
use crate::local::invoke::Opts;
use crate::local::state::{self, Paths, Proc};
use berth_cgroups::{self as cgroup, Layout};

/// How long the tool may take to start the guest's init.
const INIT_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, thiserror::Error)]
enum SuperviseError {
    #[error("{0}")]
    Plan(String),
    #[error(transparent)]
    Cgroup(#[from] cgroup::CgroupError),
    #[error(transparent)]
    Layout(#[from] cgroup::LayoutError),
    #[error(transparent)]
    Console(#[from] console::ConsoleError),
    #[error(transparent)]
    State(#[from] state::StateError),
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
    Sys(#[from] nix::Error),
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// `tool`: stdout is the daemon's ready pipe, stderr the shim log. Returns the exit code.
pub(crate) fn tool_main(opts: Opts) -> i32 {
    detached(&opts, "supervisor", supervise, cleanup)
}

fn read_plan(paths: &Paths) -> Result<LaunchPlan, SuperviseError> {
    let path = plan_path(paths);
    let text = std::fs::read(&path)
        .map_err(|e| SuperviseError::Plan(format!("{}: {e}", path.display())))?;
    serde_json::from_slice(&text)
        .map_err(|e| SuperviseError::Plan(format!("{}: {e}", path.display())))
}

fn supervise(paths: &Paths, ready: &mut Option<std::io::Stdout>) -> Result<(), SuperviseError> {
    let plan = read_plan(paths)?;
    let me = Proc::of(std::process::id() as i32)
        .ok_or_else(|| SuperviseError::Plan("no /proc".into()))?;
    Paths::write_proc(&paths.shim_pid(), me)?;
    nix::sys::prctl::set_child_subreaper(true)?;
    if plan.hide_unified {
        hide_unified()?;
    }
    let layout = Layout::detect()?;
    let console = Console::open()?;
    console.serve(plan.state_dir.join("console.log"), paths.console_socket())?;
    if let Some(bundle) = &plan.bundle {
        crate::builtin::shim::set_console_source(bundle, &console.slave_path)
            .map_err(|e| SuperviseError::Plan(e.to_string()))?;
    }
    loop {
        let mut child = spawn_tool(&plan, &layout, &paths.name, &console)?;
        let init = match wait_init(&mut child, &layout, &paths.name, &plan.argv[0]) {
            Ok(init) => init,
            Err(e) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(e);
            }
        };
        Paths::write_proc(&paths.init_pid(), init)?;
        tracing::info!(instance = %paths.name, pid = init.pid, "guest started");
        if let Some(mut out) = ready.take() {
            writeln!(out, "ready {}", init.pid)?;
            out.flush()?;
            // Our stdout becomes the log too; this closes the daemon's pipe.
            dup2(std::io::stderr().as_raw_fd(), 1)?;
        }
        let status = child.wait()?;
        reap_orphans();
        tracing::info!(instance = %paths.name, %status, "tool exited");
        // The tool is gone; nothing of its guest may outlive it.
        if init.alive() {
            // SAFETY: kill(2) has no memory-safety preconditions; `init` was just checked.
            unsafe { libc::kill(init.pid, libc::SIGKILL) };
            init.wait_gone(Duration::from_secs(10));
        }
        let rebooting = status
            .code()
            .is_some_and(|c| plan.reboot_codes.contains(&c));
        if !rebooting || paths.stopping().exists() {
            return Ok(());
        }
        tracing::info!(instance = %paths.name, "guest asked for a reboot");
        run_cleanup(&plan);
    }
}

/// A mount namespace of our own without the hybrid cgroup2 mount.
fn hide_unified() -> Result<(), SuperviseError> {
    use nix::mount::{MntFlags, MsFlags, mount, umount2};
    nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNS).map_err(SuperviseError::Namespace)?;
    mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_REC | MsFlags::MS_PRIVATE,
        None::<&str>,
    )
    .map_err(SuperviseError::Namespace)?;
    let unified = std::path::Path::new("/sys/fs/cgroup/unified");
    if unified.exists() {
        umount2(unified, MntFlags::MNT_DETACH).map_err(SuperviseError::Namespace)?;
    }
    Ok(())
}

/// Runs the tool with the console as stdin/stdout and the shim log as stderr, in the
/// guest's cgroups from its first instruction.
fn spawn_tool(
    plan: &LaunchPlan,
    layout: &Layout,
    name: &str,
    console: &Console,
) -> Result<Child, SuperviseError> {
    let (program, args) = plan
        .argv
        .split_first()
        .ok_or_else(|| SuperviseError::Plan("empty argv".into()))?;
    let joins = if plan.join_cgroups {
        cgroup::join_files(layout, name)?
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
    let child = cmd.spawn().map_err(|source| SuperviseError::Spawn {
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
) -> Result<Proc, SuperviseError> {
    let deadline = Instant::now() + INIT_TIMEOUT;
    loop {
        // The tool's own process is pid 1 of the new namespace before it execs the guest's
        // init; only the exec'd one counts, so a failing setup is reported as a failure.
        if let Some(pid) = cgroups::find_init(layout, name)
            && let Some(init) = Proc::of(pid)
            && !runs_program(pid, program)
        {
            return Ok(init);
        }
        if let Some(status) = child.try_wait()? {
            return Err(SuperviseError::EarlyExit {
                program: program.to_owned(),
                status: status.to_string(),
            });
        }
        if Instant::now() > deadline {
            return Err(SuperviseError::NoInit(program.to_owned()));
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

fn run_cleanup(plan: &LaunchPlan) {
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

/// Everything the guest left: the tool's own state, cgroups, our pid files.
fn cleanup(paths: &Paths) {
    if let Ok(plan) = read_plan(paths) {
        run_cleanup(&plan);
    }
    match Layout::detect() {
        Ok(layout) => {
            if let Err(e) = cgroup::prune(&layout, &paths.name) {
                tracing::warn!(instance = %paths.name, "prune cgroups: {e}");
            }
        }
        Err(e) => tracing::warn!(instance = %paths.name, "cgroups: {e}"),
    }
    if let Err(e) = paths.remove_all() {
        tracing::warn!(instance = %paths.name, "remove state: {e}");
    }
}
