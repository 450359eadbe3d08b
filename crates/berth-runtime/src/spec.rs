//! What a runtime is asked to run, and what it reports back.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use berth_types::{InstanceName, Limits};

/// Everything a backend needs to boot one guest.
#[derive(Debug, Clone)]
pub struct ContainerSpec {
    pub name: InstanceName,
    /// The guest's root filesystem, already cloned and customised.
    pub rootfs: PathBuf,
    pub hostname: String,
    pub limits: Limits,
    /// A per-instance directory the backend may use for its bundle, logs and pid files.
    pub state_dir: PathBuf,
    /// A network namespace to join (`/run/netns/NAME`); `None` gives the guest a fresh one with
    /// only loopback. The networking layer prepares it with the guest's veth before start.
    pub netns: Option<PathBuf>,
}

/// The guest as seen from the host right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuntimeStatus {
    Running { pid: i32 },
    Frozen { pid: i32 },
    Stopped,
}

/// A command to run inside a guest.
#[derive(Debug, Clone)]
pub struct ExecSpec {
    pub argv: Vec<String>,
    pub env: BTreeMap<String, String>,
    pub cwd: Option<String>,
    pub stdin: Option<Vec<u8>>,
    pub timeout: Duration,
    /// Bytes kept of stdout and of stderr each; the rest is dropped and `truncated` set.
    pub output_cap: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecResult {
    pub exit_code: i32,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    pub truncated: bool,
}
