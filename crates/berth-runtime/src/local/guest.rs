//! A guest as a [`super::Launcher`] sees it: about to start ([`Launch`]) or running
//! ([`RunningGuest`]).

use std::path::PathBuf;

use berth_cgroups::Layout;
use berth_types::InstanceName;

use super::LocalConfig;
use super::state::Paths;
use crate::ContainerSpec;

/// What a launcher is given to plan one start, on a blocking thread, once a dead guest's
/// leftovers are cleared and its directories exist.
pub struct Launch<'a> {
    pub spec: &'a ContainerSpec,
    /// The host's cgroups.
    pub layout: &'a Layout,
    /// The guest's files; `paths.engine_root` is where an engine keeps its own state.
    pub paths: &'a Paths,
    /// The root filesystem the engine boots: every launcher uses this, not `spec.rootfs`.
    /// Today it is `spec.rootfs` itself; a guest's user-namespace id range (unprivileged
    /// guests) makes it the idmapped mount of it, prepared here for every backend alike.
    pub rootfs: PathBuf,
    /// The host CPUs the guest runs on (`berth_cgroups::cpuset::pick`, a kernel CPU list),
    /// `None` on a host without a cpuset controller: every engine puts it in the guest's
    /// cgroup (OCI `linux.resources.cpu.cpus`, LXC `cpuset.cpus`, berthd's own cgroups).
    pub cpus: Option<&'a str>,
}

/// A running (or frozen) guest, as the guest-control methods get it.
pub struct RunningGuest<'a> {
    pub name: &'a InstanceName,
    pub config: &'a LocalConfig,
    pub paths: &'a Paths,
    /// Init's host pid.
    pub init: i32,
}
