//! The per-guest supervisor (`berthd shim run`), like containerd's shim, the same for every
//! local backend: it detaches from berthd (fork + setsid, so the guest outlives the daemon),
//! takes the guest's lock, serves the guest's console, has its [`Engine`] start the guest,
//! reports init's pid on the ready pipe, waits for the guest to end — starting it again when
//! it rebooted — and cleans up after it: the engine's state, cgroups, pid files.
//!
//! What starts the guest is the engine, the seam youki's libcontainer calls an `Executor`:
//! libcontainer inside this process (the builtin backend's, `crate::builtin::engine`), or a
//! host tool as a child ([`super::tool_engine`]). The shim's entry point (`crate::shim`) picks
//! it from the guest's [`LaunchPlan`].

use std::fs::File;
use std::io::Write;
use std::os::fd::AsRawFd;

use berth_cgroups::Layout;
use nix::fcntl::{Flock, FlockArg};
use nix::unistd::{ForkResult, dup2, fork, setsid};

use super::console::{Console, ConsoleError};
use super::invoke::Opts;
use super::isolation::{Isolation, IsolationError};
use super::plan::SupervisorFile;
use super::plan::{LaunchPlan, PlanFileError};
use super::spec::{self, SpecError};
use super::state::{Paths, Proc, StateError};

/// An engine's own error, shown in the shim log and on the ready pipe.
pub type EngineError = Box<dyn std::error::Error + Send + Sync>;

#[derive(Debug, thiserror::Error)]
pub enum SupervisorError {
    #[error("another supervisor runs this guest")]
    Locked,
    #[error(transparent)]
    Plan(#[from] PlanFileError),
    #[error(transparent)]
    Layout(#[from] berth_cgroups::LayoutError),
    #[error(transparent)]
    Console(#[from] ConsoleError),
    #[error(transparent)]
    Bundle(#[from] SpecError),
    #[error(transparent)]
    State(#[from] StateError),
    #[error(transparent)]
    Isolation(#[from] IsolationError),
    #[error("{0}")]
    Engine(EngineError),
    #[error("no /proc entry for the supervisor itself")]
    NoProc,
    #[error("{0}")]
    Sys(#[from] nix::Error),
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// What an engine is given to start a guest.
pub struct Guest<'a> {
    pub paths: &'a Paths,
    /// The host's cgroups as this supervisor sees them (after [`Engine::prepare`]).
    pub layout: &'a Layout,
    /// The guest's console: its slave is the guest's stdio.
    pub console: &'a Console,
    pub plan: &'a LaunchPlan,
    /// An unprivileged guest's isolation (`None`: privileged); the engine delegates its
    /// cgroups before each boot.
    pub isolation: Option<&'a Isolation>,
}

/// How a guest ended.
#[derive(Debug)]
pub struct Ended {
    /// The guest asked for a reboot: start it again (unless berthd is stopping it).
    pub reboot: bool,
    /// For the log: the exit status.
    pub how: String,
}

/// What starts, awaits and cleans up one guest inside the supervisor.
pub trait Engine {
    /// Once, before the supervisor looks at the host's cgroups (a private mount namespace).
    fn prepare(&mut self) -> Result<(), EngineError> {
        Ok(())
    }
    /// Starts the guest on the console; returns its init once it runs the guest's own init.
    fn start(&mut self, guest: &Guest<'_>) -> Result<Proc, EngineError>;
    /// Returns once `init` is gone, and nothing of the guest runs any more.
    fn wait(&mut self, guest: &Guest<'_>, init: Proc) -> Result<Ended, EngineError>;
    /// Drops what the engine keeps of the guest: between boots, and at the end (before the
    /// supervisor prunes the cgroups and removes the pid files).
    fn clean(&mut self, paths: &Paths, layout: Option<&Layout>);
}

/// `berthd shim run`: stdout is berthd's ready pipe, stderr the shim log. The caller's process
/// returns 0 at once; the supervisor lives on in a child of its own session and returns its
/// exit code when the guest is gone. Forks: call before any thread exists.
pub fn run(opts: &Opts, engine_for: impl FnOnce(&LaunchPlan) -> Box<dyn Engine>) -> i32 {
    // SAFETY: the shim is single-threaded here, so the child may run arbitrary code after fork.
    match unsafe { fork() } {
        Ok(ForkResult::Parent { .. }) => return 0,
        Ok(ForkResult::Child) => {}
        Err(e) => {
            println!("error cannot fork the supervisor: {e}");
            return 1;
        }
    }
    let _ = setsid();
    init_logging();
    let paths = Paths::new(&opts.state_root, &opts.name);
    let mut ready = Some(std::io::stdout());
    // One supervisor per guest: a second must not touch or clean up the first one's guest.
    let _lock = match lock(&paths) {
        Ok(lock) => lock,
        Err(e) => {
            tracing::error!(instance = %opts.name, "{e}");
            println!("error {e}");
            return 1;
        }
    };
    let mut engine = None;
    let result = LaunchPlan::load(&paths)
        .map_err(SupervisorError::from)
        .and_then(|plan| {
            let engine = engine.insert(engine_for(&plan));
            supervise(&paths, &plan, engine.as_mut(), &mut ready)
        });
    if let Err(e) = &result {
        tracing::error!(instance = %opts.name, "{e}");
        if let Some(out) = ready.as_mut() {
            let _ = writeln!(out, "error {}", e.to_string().replace('\n', " "));
        }
    }
    // Never remove the state directory with the guest's root still mounted in it.
    if let Ok(Some(isolation)) = Isolation::read(&paths)
        && let Err(e) = isolation.leave_supervisor()
    {
        tracing::warn!(instance = %opts.name, "unmount the idmapped root: {e}");
    }
    cleanup(&paths, engine.as_deref_mut());
    tracing::info!(instance = %opts.name, "supervisor exits");
    i32::from(result.is_err())
}

/// Takes the guest's lock file, held for the supervisor's lifetime.
fn lock(paths: &Paths) -> Result<Flock<File>, SupervisorError> {
    std::fs::create_dir_all(&paths.dir)?;
    let file = File::create(paths.dir.join("shim.lock"))?;
    Flock::lock(file, FlockArg::LockExclusiveNonblock).map_err(|_| SupervisorError::Locked)
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("BERTH_SHIM_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,libcgroups=error"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .try_init();
}

fn supervise(
    paths: &Paths,
    plan: &LaunchPlan,
    engine: &mut dyn Engine,
    ready: &mut Option<std::io::Stdout>,
) -> Result<(), SupervisorError> {
    let me = Proc::of(std::process::id() as i32).ok_or(SupervisorError::NoProc)?;
    Paths::write_proc(&paths.shim_pid(), me)?;
    nix::sys::prctl::set_child_subreaper(true)?;
    let isolation = Isolation::read(paths)?;
    if let Some(isolation) = &isolation {
        isolation.enter_supervisor()?;
        tracing::info!(instance = %paths.name, start = isolation.start, root = %isolation.root.display(), "idmapped root mounted");
    }
    engine.prepare().map_err(SupervisorError::Engine)?;
    let layout = Layout::detect()?;
    let console = Console::open()?;
    if let Some(isolation) = &isolation {
        isolation.own_console(&console.slave_path)?;
    }
    if let Some(bundle) = &plan.bundle {
        spec::set_console_source(bundle, &console.slave_path)?;
    }
    console.serve(plan.state_dir.join("console.log"), paths.console_socket())?;
    let guest = Guest {
        paths,
        layout: &layout,
        console: &console,
        plan,
        isolation: isolation.as_ref(),
    };
    loop {
        let init = engine.start(&guest).map_err(SupervisorError::Engine)?;
        Paths::write_proc(&paths.init_pid(), init)?;
        tracing::info!(instance = %paths.name, pid = init.pid, "guest started");
        if let Some(mut out) = ready.take() {
            writeln!(out, "ready {}", init.pid)?;
            out.flush()?;
            // Our stdout becomes the log too; this closes berthd's pipe.
            dup2(std::io::stderr().as_raw_fd(), 1)?;
        }
        let ended = engine.wait(&guest, init).map_err(SupervisorError::Engine)?;
        tracing::info!(instance = %paths.name, status = ended.how, "guest ended");
        if !ended.reboot || paths.stopping().exists() {
            return Ok(());
        }
        tracing::info!(instance = %paths.name, "guest asked for a reboot");
        engine.clean(paths, Some(&layout));
    }
}

/// Everything the guest left behind: the engine's state, cgroups, our pid files.
fn cleanup(paths: &Paths, engine: Option<&mut (dyn Engine + 'static)>) {
    let layout = Layout::detect();
    if let Some(engine) = engine {
        engine.clean(paths, layout.as_ref().ok());
    }
    match layout {
        Ok(layout) => {
            if let Err(e) = berth_cgroups::prune(&layout, &paths.name) {
                tracing::warn!(instance = %paths.name, "prune cgroups: {e}");
            }
        }
        Err(e) => tracing::warn!(instance = %paths.name, "cgroups: {e}"),
    }
    if let Err(e) = paths.remove_all() {
        tracing::warn!(instance = %paths.name, "remove state: {e}");
    }
}
