//! Errors of the runtime layer.

use berth_types::InstanceName;

#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error("instance {0} is not running")]
    NotRunning(InstanceName),
    #[error("instance {0} is already running")]
    AlreadyRunning(InstanceName),
    #[error("backend {backend} is not usable here: {reason}")]
    Unusable {
        backend: &'static str,
        reason: String,
    },
    /// The backend leaves this to Berth, or cannot do it at all.
    #[error("backend {backend} does not {action} {name}: {why}")]
    Unsupported {
        backend: &'static str,
        name: InstanceName,
        action: &'static str,
        why: &'static str,
    },
    /// The backend could do this once configured for it (HTTP 501 naming what to configure).
    #[error("backend {backend} cannot {action} {name} as configured: {configure}")]
    NotConfigured {
        backend: &'static str,
        name: InstanceName,
        action: &'static str,
        configure: &'static str,
    },
    #[error("command timed out after {0} s")]
    ExecTimeout(u64),
    #[error("command not found in the guest: {0}")]
    CommandNotFound(String),
    #[error("{action} failed for {name}: {reason}")]
    Failed {
        name: InstanceName,
        action: &'static str,
        reason: String,
    },
    /// A remote backend (proxmox) does not answer; nothing was changed.
    #[error("{reason}; try again when it is back")]
    Unreachable {
        backend: &'static str,
        reason: String,
    },
    /// A remote backend answered with an error (the reason names backend and cause).
    #[error("{reason}")]
    Backend {
        backend: &'static str,
        reason: String,
    },
    #[error("I/O on {path}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
}
