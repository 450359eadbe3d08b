//! Daemon-side control of a running guest through files and signals only (no libcontainer, no
//! forking): status, stop, kill, freeze, limits and cleanup. Blocking; run in `spawn_blocking`.

use std::fs;
use std::time::{Duration, Instant};

use berth_cgroups::{self as cgroup, CgroupError, Layout};
use berth_types::Limits;

use super::state::{Paths, Proc};
use crate::RuntimeStatus;

/// How long the shim may take to clean up after init exited.
const SHIM_GRACE: Duration = Duration::from_secs(15);
/// How often a stop asks init again while it still runs (see [`stop`]).
pub const RESEND_EVERY: Duration = Duration::from_millis(250);
/// How long init may take to die after SIGKILL.
const KILL_GRACE: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    #[error("not running")]
    NotRunning,
    #[error(transparent)]
    Cgroup(#[from] CgroupError),
    #[error(transparent)]
    Layout(#[from] berth_cgroups::LayoutError),
    #[error("signal to pid {pid}: {source}")]
    Signal {
        pid: i32,
        #[source]
        source: std::io::Error,
    },
    #[error("asking init (pid {pid}) to shut down: {source}")]
    Shutdown {
        pid: i32,
        #[source]
        source: std::io::Error,
    },
    #[error("init (pid {0}) did not die after SIGKILL")]
    Unkillable(i32),
    #[error(transparent)]
    State(#[from] super::state::StateError),
}

/// Sends `signal` to `proc` if it still runs (a process already gone is no error).
pub fn signal(proc: Proc, signal: i32) -> std::io::Result<()> {
    if !proc.alive() {
        return Ok(());
    }
    // SAFETY: kill(2) has no memory-safety preconditions; the pid was just checked to be
    // the recorded process (start time included).
    let rc = unsafe { libc::kill(proc.pid, signal) };
    let err = std::io::Error::last_os_error();
    if rc != 0 && err.raw_os_error() != Some(libc::ESRCH) {
        return Err(err);
    }
    Ok(())
}

fn send(proc: Proc, sig: i32) -> Result<(), ControlError> {
    signal(proc, sig).map_err(|source| ControlError::Signal {
        pid: proc.pid,
        source,
    })
}

fn running(paths: &Paths) -> Result<Proc, ControlError> {
    paths.init().ok_or(ControlError::NotRunning)
}

pub fn status(paths: &Paths) -> Result<RuntimeStatus, ControlError> {
    let Some(init) = paths.init() else {
        return Ok(RuntimeStatus::Stopped);
    };
    let layout = Layout::detect()?;
    let pid = init.pid;
    Ok(match cgroup::is_frozen(&layout, &paths.name) {
        Ok(true) => RuntimeStatus::Frozen { pid },
        _ => RuntimeStatus::Running { pid },
    })
}

/// Asks the guest to shut down (`request_shutdown`: the launcher's way, SIGRTMIN+3 to init
/// for a system container), SIGKILL after `timeout`; returns once the shim cleaned up.
///
/// The request is sent again every [`RESEND_EVERY`] until one went to an init that hears the
/// halt signal (blocks or catches it): a guest stopped right after it started may not have
/// set that up yet, and the PID 1 of a namespace drops a signal it neither handles nor
/// blocks, so one request alone would wait out the timeout.
pub fn stop(
    paths: &Paths,
    timeout: Duration,
    request_shutdown: impl Fn(&Paths, Proc) -> std::io::Result<()>,
) -> Result<(), ControlError> {
    let layout = Layout::detect()?;
    if let Some(init) = paths.init() {
        mark_stopping(paths);
        if cgroup::is_frozen(&layout, &paths.name).unwrap_or(false) {
            cgroup::set_frozen(&layout, &paths.name, false)?;
        }
        let started = Instant::now();
        let deadline = started + timeout;
        let mut requests = 0u32;
        // Once a request went to an init that hears the halt signal, it is not repeated: a
        // guest busy shutting down is left to it until the timeout.
        let mut heard = false;
        let gone = loop {
            if !heard {
                heard = Proc::hears(init.pid, libc::SIGRTMIN() + 3);
                request_shutdown(paths, init).map_err(|source| ControlError::Shutdown {
                    pid: init.pid,
                    source,
                })?;
                requests += 1;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if init.wait_gone(left.min(RESEND_EVERY)) {
                break true;
            }
            if Instant::now() >= deadline {
                break false;
            }
        };
        if gone {
            tracing::info!(instance = %paths.name, requests, elapsed = ?started.elapsed(), "guest shut down");
        } else {
            tracing::info!(instance = %paths.name, requests, "clean shutdown timed out; killing");
            send(init, libc::SIGKILL)?;
            if !init.wait_gone(KILL_GRACE) {
                return Err(ControlError::Unkillable(init.pid));
            }
        }
    }
    settle(paths, &layout);
    Ok(())
}

/// SIGKILL to init (the kernel then kills the whole PID namespace); returns once cleaned up.
pub fn kill(paths: &Paths) -> Result<(), ControlError> {
    stop_now(paths)?;
    settle(paths, &Layout::detect()?);
    Ok(())
}

fn stop_now(paths: &Paths) -> Result<(), ControlError> {
    let Some(init) = paths.init() else {
        return Ok(());
    };
    mark_stopping(paths);
    send(init, libc::SIGKILL)?;
    // Frozen v1 tasks die only once thawed.
    let layout = Layout::detect()?;
    if cgroup::is_frozen(&layout, &paths.name).unwrap_or(false) {
        cgroup::set_frozen(&layout, &paths.name, false)?;
    }
    if init.wait_gone(KILL_GRACE) {
        Ok(())
    } else {
        Err(ControlError::Unkillable(init.pid))
    }
}

fn mark_stopping(paths: &Paths) {
    let _ = fs::write(paths.stopping(), b"");
}

/// Once init is gone: waits for the shim to finish its cleanup, and does it here when the
/// shim is gone (killed, crashed) so no state or cgroup is left behind.
pub fn settle(paths: &Paths, layout: &Layout) {
    if paths.init().is_some() {
        return;
    }
    if let Some(shim) = paths.shim()
        && !shim.wait_gone(SHIM_GRACE)
    {
        tracing::warn!(instance = %paths.name, pid = shim.pid, "shim still running");
        return;
    }
    if let Err(e) = cgroup::prune(layout, &paths.name) {
        tracing::warn!(instance = %paths.name, "prune cgroups: {e}");
    }
    if let Err(e) = paths.remove_all() {
        tracing::warn!(instance = %paths.name, "remove state: {e}");
    }
}

pub fn freeze(paths: &Paths, frozen: bool) -> Result<(), ControlError> {
    running(paths)?;
    cgroup::set_frozen(&Layout::detect()?, &paths.name, frozen)?;
    Ok(())
}

pub fn update_limits(paths: &Paths, limits: &Limits) -> Result<(), ControlError> {
    running(paths)?;
    cgroup::apply_limits(&Layout::detect()?, &paths.name, limits)?;
    Ok(())
}

/// Kills the guest if it runs and removes all its state and cgroups (idempotent).
pub fn remove(paths: &Paths) -> Result<(), ControlError> {
    stop_now(paths)?;
    let layout = Layout::detect()?;
    settle(paths, &layout);
    if paths.shim().is_none() {
        cgroup::prune(&layout, &paths.name)?;
        paths.remove_all()?;
    }
    Ok(())
}
