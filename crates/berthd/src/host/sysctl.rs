//! Raising the host's kernel limits (`[host]`): each is read, and written only when below
//! what is wanted — a value the host owner set higher stays. Writes go through a private
//! procfs instance ([`PrivateProc`]), so they work where the host's `/proc` is mounted
//! read-only. Every change and every refusal is logged with the `[host]` key that governs it.

use berth_isolation::procfs::{PrivateProc, ProcError};

/// One limit berthd wants at least at `value`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wanted {
    /// Under `sys/`: `fs/inotify/max_user_instances`.
    pub path: String,
    /// The configuration key that sets it: `host.inotify_max_user_instances`.
    pub key: String,
    pub value: u64,
    /// Absent on some hosts (a module not loaded) without that being worth a warning.
    pub optional: bool,
}

impl Wanted {
    pub fn new(path: impl Into<String>, key: impl Into<String>, value: u64) -> Self {
        Self {
            path: path.into(),
            key: key.into(),
            value,
            optional: false,
        }
    }

    pub fn optional(self) -> Self {
        Self {
            optional: true,
            ..self
        }
    }

    /// The sysctl's dotted name: `fs.inotify.max_user_instances`.
    pub fn sysctl(&self) -> String {
        self.path.replace('/', ".")
    }
}

/// What became of one limit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Raised from `from` to the wanted value.
    Raised { from: u64 },
    /// Already at or above the wanted value: left alone.
    Enough { current: u64 },
    /// Below the wanted value and left so (`raise_limits = false`).
    Low { current: u64 },
    /// The kernel has no such limit (a module not loaded).
    Absent,
    /// Reading or writing failed.
    Failed(String),
}

/// One limit and its outcome, for the log and `berth system`.
#[derive(Debug, Clone)]
pub struct Checked {
    pub wanted: Wanted,
    pub outcome: Outcome,
}

/// Reads each limit and, when `write`, raises those below what is wanted. Never lowers one.
pub fn raise(proc: &PrivateProc, wanted: &[Wanted], write: bool) -> Vec<Checked> {
    wanted
        .iter()
        .map(|w| Checked {
            wanted: w.clone(),
            outcome: raise_one(proc, w, write),
        })
        .collect()
}

fn raise_one(proc: &PrivateProc, w: &Wanted, write: bool) -> Outcome {
    let current = match read(proc, &w.path) {
        Ok(Some(v)) => v,
        Ok(None) => return Outcome::Absent,
        Err(e) => return Outcome::Failed(e),
    };
    if current >= w.value {
        return Outcome::Enough { current };
    }
    if !write {
        return Outcome::Low { current };
    }
    match proc.write(&format!("sys/{}", w.path), &format!("{}\n", w.value)) {
        Ok(()) => Outcome::Raised { from: current },
        Err(e) => Outcome::Failed(crate::app::error::error_chain(&e)),
    }
}

/// The limit at `path` (under `sys/`); `None` when the kernel has no such file.
pub fn read(proc: &PrivateProc, path: &str) -> Result<Option<u64>, String> {
    let text = match proc.read(&format!("sys/{path}")) {
        Ok(text) => text,
        Err(ProcError::Open { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
            return Ok(None);
        }
        Err(e) => return Err(crate::app::error::error_chain(&e)),
    };
    text.trim()
        .parse()
        .map(Some)
        .map_err(|_| format!("sys/{path} holds {:?}, not a number", text.trim()))
}

/// Logs each outcome: raised ones at info, low or failed ones as warnings naming the key.
pub fn log(checked: &[Checked]) {
    for c in checked {
        let (sysctl, key, value) = (c.wanted.sysctl(), &c.wanted.key, c.wanted.value);
        match &c.outcome {
            Outcome::Raised { from } => {
                tracing::info!(sysctl, from, to = value, "raised a kernel limit ({key})");
            }
            Outcome::Enough { current } => {
                tracing::debug!(sysctl, current, wanted = value, "kernel limit high enough");
            }
            Outcome::Low { current } => tracing::warn!(
                sysctl,
                current,
                wanted = value,
                "kernel limit below what a full host needs; host.raise_limits is false, so \
                 raise it yourself (sysctl -w {sysctl}={value}) or lower {key}"
            ),
            Outcome::Absent if c.wanted.optional => {
                tracing::debug!(sysctl, "kernel limit not present")
            }
            Outcome::Absent => {
                tracing::warn!(sysctl, "this kernel has no such limit; set {key} = 0")
            }
            Outcome::Failed(e) => tracing::warn!(
                sysctl,
                wanted = value,
                error = %e,
                "cannot raise a kernel limit; run berthd as root, raise it yourself \
                 (sysctl -w {sysctl}={value}) or set {key} = 0"
            ),
        }
    }
}

/// At daemon start: checks every limit of `[host]` (`wanted`) and raises those below it when
/// `raise_limits` (`host.raise_limits`), logging what it did.
pub fn apply(wanted: &[Wanted], raise_limits: bool) -> Vec<Checked> {
    let proc = match PrivateProc::new() {
        Ok(proc) => proc,
        Err(e) => {
            tracing::warn!(
                error = %crate::app::error::error_chain(&e),
                "cannot check the host's kernel limits (berthd needs CAP_SYS_ADMIN for a \
                 private procfs); guests may hit them: see [host] in docs/CONFIGURATION.md"
            );
            return Vec::new();
        }
    };
    let checked = raise(&proc, wanted, raise_limits);
    log(&checked);
    checked
}
