//! The builtin backend's engine: youki's libcontainer, inside the supervisor. It builds the
//! container from the bundle with the console as its stdio, starts it, reaps init (the
//! supervisor is its parent and a subreaper) and deletes libcontainer's state afterwards (itself:
//! see [`Libcontainer::clean`]).

use std::path::{Path, PathBuf};

use berth_cgroups::{self as cgroup, Layout};
use libcontainer::container::builder::ContainerBuilder;
use libcontainer::syscall::syscall::SyscallType;
use nix::sys::signal::Signal;
use nix::sys::wait::{WaitStatus, waitpid};
use nix::unistd::Pid;

use crate::local::security;
use crate::local::state::{Paths, Proc};
use crate::local::supervisor::{Ended, Engine, EngineError, Guest};

#[derive(Debug, thiserror::Error)]
pub enum LibcontainerError {
    #[error("the launch plan names no bundle")]
    NoBundle,
    #[error(transparent)]
    Cgroup(#[from] cgroup::CgroupError),
    #[error(transparent)]
    Layout(#[from] cgroup::LayoutError),
    #[error(transparent)]
    Devices(#[from] cgroup::DevicesError),
    #[error("libcontainer: {0}")]
    Container(#[from] libcontainer::error::LibcontainerError),
    #[error("libcontainer reported no init pid")]
    NoPid,
    #[error("init vanished before it was reaped")]
    Vanished,
    #[error(transparent)]
    Isolation(#[from] crate::local::isolation::IsolationError),
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// libcontainer run on an OCI bundle.
pub struct Libcontainer {
    bundle: Option<PathBuf>,
}

impl Libcontainer {
    pub fn new(bundle: Option<PathBuf>) -> Self {
        Self { bundle }
    }
}

impl Engine for Libcontainer {
    fn start(&mut self, guest: &Guest<'_>) -> Result<Proc, EngineError> {
        let bundle = self.bundle.as_ref().ok_or(LibcontainerError::NoBundle)?;
        Ok(start_container(guest, bundle)?)
    }

    fn wait(&mut self, _guest: &Guest<'_>, init: Proc) -> Result<Ended, EngineError> {
        let status = wait_for(Pid::from_raw(init.pid));
        Ok(Ended {
            reboot: matches!(status, WaitStatus::Signaled(_, Signal::SIGHUP, _)),
            how: format!("{status:?}"),
        })
    }

    /// What libcontainer's forced delete does for our bundles (no hooks, no Intel RDT), done
    /// without its cgroup manager, which parses `/proc/self/mountinfo` and `/proc/self/cgroup`
    /// once per v1 controller (twelve times, more costly with every guest's namespace mounts):
    /// kill whatever is left in the guest's cgroups, remove them in every hierarchy (ours
    /// included), then drop libcontainer's state directory.
    fn clean(&mut self, paths: &Paths, layout: Option<&Layout>) {
        if let Some(layout) = layout {
            if let Err(e) = cgroup::kill_all(layout, &paths.name) {
                tracing::warn!(instance = %paths.name, "kill what is left of the guest: {e}");
            }
            if let Err(e) = cgroup::prune(layout, &paths.name) {
                tracing::warn!(instance = %paths.name, "prune cgroups: {e}");
            }
        }
        let dir = paths.engine_dir();
        match std::fs::remove_dir_all(&dir) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => tracing::warn!(instance = %paths.name, "remove {}: {e}", dir.display()),
        }
    }
}

/// Builds and starts the container; returns init once it runs the guest's `/sbin/init`.
fn start_container(guest: &Guest<'_>, bundle: &Path) -> Result<Proc, LibcontainerError> {
    let (name, layout, console) = (guest.paths.name.as_str(), guest.layout, guest.console);
    // libcgroups leaves the named systemd (and hybrid cgroup2) hierarchies alone: join the
    // guest's cgroup there ourselves so the forked init (and its cgroup namespace) starts in
    // it, then step back out.
    let mut homes = Vec::new();
    for (h, key) in layout.self_joined() {
        homes.push((h, cgroup::process_cgroup("self", key)?));
        cgroup::enter(&cgroup::guest_dir(&h.mount, name))?;
    }
    let built = ContainerBuilder::new(name.to_owned(), SyscallType::default())
        .with_root_path(&guest.paths.engine_root)?
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
    // The cgroups exist now (ours above, libcgroups' in build): give systemd's to the guest.
    if let Some(isolation) = guest.isolation {
        isolation.delegate(layout, name)?;
    }
    // cgroup v2 has no device controller file: attach our filter before init runs the guest.
    if let Some(dir) = layout.unified_dir(name) {
        cgroup::devices::attach(&dir, security::DEVICE_RULES)?;
    }
    container.start()?;
    let pid = container.pid().ok_or(LibcontainerError::NoPid)?;
    // Our child: it exists at least as a zombie until we reap it, even if it exited at once.
    let (init, _) = Proc::stat(pid.as_raw()).ok_or(LibcontainerError::Vanished)?;
    Ok(init)
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
