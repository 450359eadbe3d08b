//! What a runtime is asked to run, and what it reports back.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use berth_types::{IdRange, InstanceName, Limits};

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
    /// The runtime tool the guest runs under, for a backend that offers a choice
    /// (`Runtime::runtime_tools`: the oci backend's `crun` or `runc`), as chosen at create
    /// (`Runtime::choose_runtime_tool`) and stored with the instance; `None`: the backend's
    /// default.
    pub runtime: Option<String>,
    /// A network namespace to join (`/run/netns/NAME`); `None` gives the guest a fresh one with
    /// only loopback. The networking layer prepares it with the guest's veth before start.
    pub netns: Option<PathBuf>,
    /// Who the guest's root is on the host (see docs/UNPRIVILEGED.md).
    pub security: GuestSecurity,
}

/// How a guest is kept from the host. The default is privileged (no user namespace): what every
/// backend did before id ranges; berthd fills it from the instance's record.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GuestSecurity {
    /// The guest's 65,536 host ids; `None` runs the guest privileged (its root is the host's).
    pub idmap: Option<IdRange>,
    /// The guest's user namespace kept on a file (`/run/berth/userns/NAME`), made by berthd with
    /// `idmap` written and owning `ContainerSpec::netns`; a launcher joins it rather than making
    /// its own. Only with `idmap`.
    pub userns: Option<PathBuf>,
    /// Nested containers allowed inside the guest (the nesting tier of the seccomp deny list is
    /// lifted).
    pub nesting: bool,
    /// The mount point of the host's lxcfs; its files are bound over the guest's `/proc/*` and
    /// `/sys/devices/system/cpu/online` so `free`, `uptime`, `nproc` show the guest's own.
    pub lxcfs: Option<PathBuf>,
}

impl GuestSecurity {
    /// True when the guest's root is the host's root.
    pub fn privileged(&self) -> bool {
        self.idmap.is_none()
    }
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

/// Root's credentials to set in a guest whose root filesystem the backend keeps: a crypt(3)
/// hash (never a clear password) and/or the whole of root's `authorized_keys` (validated keys).
#[derive(Clone, Default)]
pub struct GuestCredentials {
    pub password_hash: Option<String>,
    pub ssh_keys: Option<Vec<String>>,
}

impl std::fmt::Debug for GuestCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GuestCredentials")
            .field(
                "password_hash",
                &self.password_hash.as_ref().map(|_| "<redacted>"),
            )
            .field("ssh_keys", &self.ssh_keys.as_ref().map(Vec::len))
            .finish()
    }
}
