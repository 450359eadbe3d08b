//! Keeping lxcfs running: a detached supervisor (`berthd lxcfs DIR`, in its own session like
//! the userspace WireGuard helper) runs `lxcfs -f` on the mount, restarts it when it dies
//! (after clearing the dead mount, with a growing pause when it keeps dying), and on SIGTERM
//! stops it and unmounts. It outlives berthd; berthd only makes sure one runs ([`ensure`]):
//! the supervisor holds an exclusive lock on `supervisor.lock`, so a second never starts.

use std::ffi::OsString;
use std::fs::File;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use rustix::fs::{FlockOperation, flock};
use rustix::mount::UnmountFlags;

use super::{Lxcfs, OPTIONS};

#[derive(Debug, thiserror::Error)]
pub enum SuperviseError {
    #[error("{what} {}: {source}", path.display())]
    Io {
        what: &'static str,
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("another lxcfs supervisor runs in {0}")]
    Running(String),
    #[error("lxcfs is not installed (apt install lxcfs)")]
    NotInstalled,
    #[error("starting the lxcfs supervisor: {0}")]
    Spawn(#[source] std::io::Error),
    #[error("lxcfs did not answer at {0} within 10 s; see lxcfs.log there")]
    NoMount(String),
}

fn io<'a>(
    what: &'static str,
    path: &'a Path,
) -> impl FnOnce(std::io::Error) -> SuperviseError + 'a {
    move |source| SuperviseError::Io {
        what,
        path: path.to_owned(),
        source,
    }
}

static TERMINATE: AtomicBool = AtomicBool::new(false);

extern "C" fn on_terminate(_: libc::c_int) {
    TERMINATE.store(true, Ordering::SeqCst);
}

/// The body of `berthd lxcfs DIR`: runs until SIGTERM.
pub fn run(lxcfs: &Lxcfs, program: &Path) -> Result<(), SuperviseError> {
    let dir = lxcfs.dir();
    std::fs::create_dir_all(lxcfs.mount_point()).map_err(io("creating", dir))?;
    // Guests' runtimes bind the files as the guest's root (a host id with no right on
    // root-owned directories): the path must be searchable by others, whatever the umask.
    for d in [dir.to_owned(), lxcfs.mount_point()] {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o711))
            .map_err(io("setting the mode of", dir))?;
    }
    let lock = File::create(lxcfs.lock_file()).map_err(io("creating", dir))?;
    // berthd's `supervisor_running` may hold a shared lock for an instant: try a while.
    let mut tries = 0;
    while flock(&lock, FlockOperation::NonBlockingLockExclusive).is_err() {
        tries += 1;
        if tries > 20 {
            return Err(SuperviseError::Running(dir.display().to_string()));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let pid_file = lxcfs.supervisor_pid_file();
    std::fs::write(&pid_file, std::process::id().to_string()).map_err(io("writing", &pid_file))?;
    // SAFETY: the handler only stores to an atomic, which is async-signal-safe.
    unsafe {
        libc::signal(
            libc::SIGTERM,
            on_terminate as *const () as libc::sighandler_t,
        );
        libc::signal(
            libc::SIGINT,
            on_terminate as *const () as libc::sighandler_t,
        );
    }
    let mut pause = Duration::from_millis(250);
    while !TERMINATE.load(Ordering::SeqCst) {
        clear_mount(lxcfs);
        let started = Instant::now();
        let log = File::options()
            .create(true)
            .append(true)
            .open(lxcfs.log_file())
            .map_err(io("opening", dir))?;
        let mut child = Command::new(program)
            .arg("-f")
            .args(OPTIONS)
            .arg("-p")
            .arg(lxcfs.lxcfs_pid_file())
            .arg(lxcfs.mount_point())
            .stdin(Stdio::null())
            .stdout(log.try_clone().map_err(io("opening", dir))?)
            .stderr(log)
            .spawn()
            .map_err(SuperviseError::Spawn)?;
        if let Some(instance) = super::start_time(child.id()) {
            let _ = std::fs::write(lxcfs.instance_file(), instance.to_string());
        }
        let status = loop {
            if TERMINATE.load(Ordering::SeqCst) {
                let _ = rustix::process::kill_process(
                    rustix::process::Pid::from_child(&child),
                    rustix::process::Signal::TERM,
                );
            }
            match child.try_wait() {
                Ok(Some(status)) => break Some(status),
                Ok(None) => std::thread::sleep(Duration::from_millis(100)),
                Err(_) => break None,
            }
        };
        if TERMINATE.load(Ordering::SeqCst) {
            break;
        }
        note(lxcfs, &format!("lxcfs exited ({status:?}); restarting it"));
        // One that ran a while gets restarted at once; one that keeps dying, ever slower.
        pause = if started.elapsed() > Duration::from_secs(60) {
            Duration::from_millis(250)
        } else {
            (pause * 2).min(Duration::from_secs(30))
        };
        let deadline = Instant::now() + pause;
        while Instant::now() < deadline && !TERMINATE.load(Ordering::SeqCst) {
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    clear_mount(lxcfs);
    let _ = std::fs::remove_file(lxcfs.instance_file());
    let _ = std::fs::remove_file(&pid_file);
    let _ = std::fs::remove_file(lxcfs.lxcfs_pid_file());
    Ok(())
}

/// Appends a line of the supervisor's own to the log.
fn note(lxcfs: &Lxcfs, line: &str) {
    use std::io::Write;
    if let Ok(mut log) = File::options()
        .create(true)
        .append(true)
        .open(lxcfs.log_file())
    {
        let _ = writeln!(log, "berth lxcfs supervisor: {line}");
    }
}

/// Detaches whatever is mounted at the mount point (a dead lxcfs leaves its mount behind).
fn clear_mount(lxcfs: &Lxcfs) {
    let mount = lxcfs.mount_point();
    while rustix::mount::unmount(&mount, UnmountFlags::DETACH | UnmountFlags::NOFOLLOW).is_ok() {}
}

/// Whether a supervisor holds the lock in `lxcfs`'s directory.
pub fn supervisor_running(lxcfs: &Lxcfs) -> bool {
    let Ok(lock) = File::open(lxcfs.lock_file()) else {
        return false;
    };
    match flock(&lock, FlockOperation::NonBlockingLockShared) {
        Ok(()) => false,
        Err(_) => true,
    }
}

/// Starts the supervisor (`helper` is its argv, e.g. `berthd lxcfs`; the directory is
/// appended) in its own session unless one runs, and waits until lxcfs answers; returns the
/// instance ([`Lxcfs::instance`]).
pub fn ensure(lxcfs: &Lxcfs, helper: &[OsString]) -> Result<u64, SuperviseError> {
    if !supervisor_running(lxcfs) {
        let (program, args) = helper
            .split_first()
            .ok_or_else(|| SuperviseError::Spawn(std::io::Error::other("no helper command")))?;
        std::fs::create_dir_all(lxcfs.dir()).map_err(io("creating", lxcfs.dir()))?;
        let mut command = Command::new(program);
        command
            .args(args)
            .arg(lxcfs.dir())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        // SAFETY: setsid is async-signal-safe and touches nothing of the parent's.
        unsafe {
            command.pre_exec(|| rustix::process::setsid().map(drop).map_err(Into::into));
        }
        let mut child = command.spawn().map_err(SuperviseError::Spawn)?;
        // Reaped in the background if it ends; it is otherwise left to run.
        std::thread::spawn(move || child.wait());
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if let Some(instance) = lxcfs.instance() {
            return Ok(instance);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Err(SuperviseError::NoMount(
        lxcfs.mount_point().display().to_string(),
    ))
}

/// Stops the supervisor (and with it lxcfs and its mount) and waits for it; none is fine.
pub fn stop(lxcfs: &Lxcfs) {
    let pid = std::fs::read_to_string(lxcfs.supervisor_pid_file())
        .ok()
        .and_then(|p| p.trim().parse::<i32>().ok())
        .and_then(rustix::process::Pid::from_raw);
    if let Some(pid) = pid.filter(|_| supervisor_running(lxcfs)) {
        let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
        let deadline = Instant::now() + Duration::from_secs(10);
        while supervisor_running(lxcfs) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    clear_mount(lxcfs);
}

/// The lxcfs program on `PATH`.
pub fn program() -> Result<std::path::PathBuf, SuperviseError> {
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|d| d.join("lxcfs"))
        .find(|p| p.is_file())
        .ok_or(SuperviseError::NotInstalled)
}
