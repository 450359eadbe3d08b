//! What every local backend shares: the guest's files and pids under `state_root`, control
//! through files, signals and cgroups (stop, kill, freeze, status, limits, remove), the
//! console, exec and terminals through `berthd shim enter`, security policy and the OCI spec
//! of a system container, running host tools, and how berthd invokes its shim.

pub mod console;
pub mod control;
pub mod enter;
pub mod exec;
pub mod invoke;
pub mod probe;
pub mod security;
pub mod spec;
pub mod state;
pub mod terminal;
pub mod tools;

use std::ffi::OsString;
use std::path::PathBuf;

/// Where a local backend keeps its state and how it runs its shim.
#[derive(Debug, Clone)]
pub struct LocalConfig {
    /// Runtime state: pid files and the engine's own state (e.g. `/run/berth/runtime`); each
    /// backend has its own.
    pub state_root: PathBuf,
    /// The argv prefix that runs the shim: `["/usr/bin/berthd", "shim"]` or
    /// `["/usr/lib/berth/berth-shim"]`; `run …` or `enter …` is appended.
    pub shim_command: Vec<OsString>,
}
