//! The per-guest supervisor (`berth-shim run`), like containerd's shim: detaches from the daemon,
//! starts the guest with libcontainer, reports init's pid, reaps init and cleans up after it.
//! `berth-shim enter` is the short-lived helper that runs one command inside (see `local::enter`).

use std::ffi::OsString;
use std::fs::File;
use std::io::Write;
use std::os::fd::AsRawFd;
use std::path::Path;

use libcontainer::container::Container;
use libcontainer::container::builder::ContainerBuilder;
use libcontainer::syscall::syscall::SyscallType;
use nix::fcntl::{Flock, FlockArg};
use nix::sys::signal::Signal;
use nix::sys::wait::{WaitStatus, waitpid};
use nix::unistd::{ForkResult, Pid, dup2, fork, setsid};
use oci_spec::runtime::Spec;

use crate::local::console::{self, Console};
use crate::local::invoke::Opts;
use crate::local::security;
use crate::local::spec::CONSOLE;
use crate::local::state::{self, Paths, Proc};
use berth_cgroups::{self as cgroup, Layout, devices};

#[derive(Debug, thiserror::Error)]
pub enum ShimError {
    #[error("usage: {0}")]
    Usage(String),
    #[error(transparent)]
    Cgroup(#[from] cgroup::CgroupError),
    #[error(transparent)]
    Layout(#[from] cgroup::LayoutError),
    #[error(transparent)]
    Console(#[from] console::ConsoleError),
    #[error(transparent)]
    State(#[from] state::StateError),
    #[error(transparent)]
    Devices(#[from] devices::DevicesError),
    #[error("bundle: {0}")]
    Bundle(String),
    #[error("libcontainer: {0}")]
    Container(#[from] libcontainer::error::LibcontainerError),
    #[error("{0}")]
    Sys(#[from] nix::Error),
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// Entry point of `berth-shim` / `berthd shim`. `args` are the arguments after the program
/// (or after `shim`): `run --name N --state-root DIR --bundle DIR`, or
/// `exec --name N --state-root DIR [--cwd DIR] [--env K=V]... -- ARGV...`; `tool` and
/// `enter` are the same for the host-tool backends (see `crate::host`); returns the exit
/// code. `run` forks: call this first thing in `main`, before any thread or tokio runtime.
pub fn shim_main(args: Vec<OsString>) -> i32 {
    let Some((cmd, rest)) = args.split_first() else {
        eprintln!("berth-shim: usage: berth-shim run|exec --name N --state-root DIR ...");
        return 2;
    };
    let opts = match Opts::parse(rest) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("berth-shim: {e}");
            return 2;
        }
    };
    match cmd.to_str() {
        Some("run") => run(opts),
        Some("tool") => crate::host::tool_main(opts),
        Some("enter") => crate::local::enter::enter_main(opts),
        _ => {
            eprintln!("berth-shim: unknown command {}", cmd.to_string_lossy());
            2
        }
    }
}

/// `run`: stdout is the daemon's ready pipe, stderr the shim log.
fn run(opts: Opts) -> i32 {
    detached(
        &opts,
        "shim",
        |paths, ready| supervise(&opts, paths, ready),
        cleanup,
    )
}

/// The life of a per-guest supervisor (the builtin shim, a host tool's supervisor): detach
/// (the daemon reaps the parent at once; the child lives on in its own session), take the
/// guest's lock (one supervisor per guest: a second must not touch or clean up the first one's
/// guest), `supervise`, report a failure on the ready pipe (stdout) if it has not answered yet,
/// `cleanup`, and return the exit code.
pub(crate) fn detached<E: std::fmt::Display>(
    opts: &Opts,
    what: &str,
    supervise: impl FnOnce(&Paths, &mut Option<std::io::Stdout>) -> Result<(), E>,
    cleanup: impl FnOnce(&Paths),
) -> i32 {
    // SAFETY: the shim is single-threaded here, so the child may run arbitrary code after fork.
    match unsafe { fork() } {
        Ok(ForkResult::Parent { .. }) => return 0,
        Ok(ForkResult::Child) => {}
        Err(e) => {
            println!("error cannot fork the {what}: {e}");
            return 1;
        }
    }
    let _ = setsid();
    init_logging();
    let paths = Paths::new(&opts.state_root, &opts.name);
    let mut ready = Some(std::io::stdout());
    let _lock = match lock(&paths) {
        Ok(lock) => lock,
        Err(e) => {
            tracing::error!(instance = %opts.name, "{e}");
            println!("error {e}");
            return 1;
        }
    };
    let result = supervise(&paths, &mut ready);
    if let Err(e) = &result {
        tracing::error!(instance = %opts.name, "{e}");
        if let Some(out) = ready.as_mut() {
            let _ = writeln!(out, "error {}", e.to_string().replace('\n', " "));
        }
    }
    cleanup(&paths);
    tracing::info!(instance = %opts.name, "{what} exits");
    i32::from(result.is_err())
}

/// Takes the guest's lock file, held for the shim's lifetime.
pub(crate) fn lock(paths: &Paths) -> Result<Flock<File>, ShimError> {
    std::fs::create_dir_all(&paths.dir)?;
    let file = File::create(paths.dir.join("shim.lock"))?;
    Flock::lock(file, FlockArg::LockExclusiveNonblock)
        .map_err(|_| ShimError::Bundle("another shim runs this guest".into()))
}

pub(crate) fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("BERTH_SHIM_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,libcgroups=error"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .try_init();
}

fn supervise(
    opts: &Opts,
    paths: &Paths,
    ready: &mut Option<std::io::Stdout>,
) -> Result<(), ShimError> {
    let name = opts.name.as_str();
    let bundle = opts
        .bundle
        .clone()
        .ok_or_else(|| ShimError::Usage("--bundle is required".into()))?;
    std::fs::create_dir_all(&paths.dir)?;
    let me =
        Proc::of(std::process::id() as i32).ok_or_else(|| ShimError::Bundle("no /proc".into()))?;
    Paths::write_proc(&paths.shim_pid(), me)?;
    nix::sys::prctl::set_child_subreaper(true)?;
    let layout = Layout::detect()?;
    let console = Console::open()?;
    set_console_source(&bundle, &console.slave_path)?;
    console.serve(bundle.join("console.log"), paths.console_socket())?;
    loop {
        let init = start_container(name, paths, &layout, &bundle, &console)?;
        tracing::info!(instance = name, pid = init.pid, "guest started");
        if let Some(mut out) = ready.take() {
            writeln!(out, "ready {}", init.pid)?;
            out.flush()?;
            // Our stdout becomes the log too; this closes the daemon's pipe.
            dup2(std::io::stderr().as_raw_fd(), 1)?;
        }
        let status = wait_for(Pid::from_raw(init.pid));
        tracing::info!(instance = name, ?status, "guest init exited");
        let rebooting = matches!(status, WaitStatus::Signaled(_, Signal::SIGHUP, _));
        if !rebooting || paths.stopping().exists() {
            return Ok(());
        }
        tracing::info!(instance = name, "guest asked for a reboot");
        cleanup_container(paths, &layout);
    }
}

/// Builds and starts the container; returns init once it runs the guest's `/sbin/init`.
fn start_container(
    name: &str,
    paths: &Paths,
    layout: &Layout,
    bundle: &Path,
    console: &Console,
) -> Result<Proc, ShimError> {
    // libcgroups leaves the named systemd (and hybrid cgroup2) hierarchies alone: join the
    // guest's cgroup there ourselves so the forked init (and its cgroup namespace) starts in
    // it, then step back out.
    let mut homes = Vec::new();
    for (h, key) in layout.self_joined() {
        homes.push((h, cgroup::process_cgroup("self", key)?));
        cgroup::enter(&cgroup::guest_dir(&h.mount, name))?;
    }
    let built = ContainerBuilder::new(name.to_owned(), SyscallType::default())
        .with_root_path(&paths.youki_root)?
        .with_stdin(console.slave_fd()?)
        .with_stdout(console.slave_fd()?)
        .with_stderr(console.slave_fd()?)
        .validate_id()?
        .as_init(bundle)
        .with_systemd(false)
        .with_detach(true)
        .build();
    for (h, home) in homes {
        let back = h.mount.join(home.trim_start_matches('/'));
        if let Err(e) = cgroup::enter(&back) {
            tracing::warn!(instance = name, "cannot leave the guest's cgroup: {e}");
        }
    }
    let mut container = built?;
    // cgroup v2 has no device controller file: attach our filter before init runs the guest.
    if let Some(dir) = layout.unified_dir(name) {
        devices::attach(&dir, security::DEVICE_RULES)?;
    }
    container.start()?;
    let pid = container
        .pid()
        .ok_or_else(|| ShimError::Bundle("libcontainer reported no init pid".into()))?;
    // Our child: it exists at least as a zombie until we reap it, even if it exited at once.
    let (init, _) = Proc::stat(pid.as_raw())
        .ok_or_else(|| ShimError::Bundle("init vanished before it was reaped".into()))?;
    Paths::write_proc(&paths.init_pid(), init)?;
    Ok(init)
}

/// Points the `/dev/console` bind mount of the bundle at this shim's pty.
pub(crate) fn set_console_source(bundle: &Path, slave: &Path) -> Result<(), ShimError> {
    let path = bundle.join("config.json");
    let mut spec = Spec::load(&path).map_err(|e| ShimError::Bundle(e.to_string()))?;
    let mut mounts = spec.mounts().clone().unwrap_or_default();
    for m in mounts
        .iter_mut()
        .filter(|m| m.destination() == Path::new(CONSOLE))
    {
        m.set_source(Some(slave.to_owned()));
    }
    spec.set_mounts(Some(mounts));
    spec.save(&path)
        .map_err(|e| ShimError::Bundle(e.to_string()))
}

/// Reaps children (we are a subreaper) until `init` exits; returns how it ended.
fn wait_for(init: Pid) -> WaitStatus {
    loop {
        match waitpid(None, None) {
            Ok(s @ (WaitStatus::Exited(p, _) | WaitStatus::Signaled(p, _, _))) if p == init => {
                return s;
            }
            Ok(_) | Err(nix::Error::EINTR) => {}
            Err(_) => return WaitStatus::StillAlive,
        }
    }
}

/// libcontainer's delete, then our own pruning of every cgroup it does not know about.
fn cleanup_container(paths: &Paths, layout: &Layout) {
    if let Ok(mut c) = Container::load(paths.youki_dir())
        && let Err(e) = c.delete(true)
    {
        tracing::warn!(instance = %paths.name, "libcontainer delete: {e}");
    }
    if let Err(e) = cgroup::prune(layout, &paths.name) {
        tracing::warn!(instance = %paths.name, "prune cgroups: {e}");
    }
}

/// Everything the guest left behind: libcontainer state, cgroups, our pid files.
pub(super) fn cleanup(paths: &Paths) {
    match Layout::detect() {
        Ok(layout) => cleanup_container(paths, &layout),
        Err(e) => tracing::warn!(instance = %paths.name, "cgroups: {e}"),
    }
    if let Err(e) = paths.remove_all() {
        tracing::warn!(instance = %paths.name, "remove state: {e}");
    }
}
