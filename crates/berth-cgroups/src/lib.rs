//! Guest cgroups, kept apart from the runtimes that put processes in them (as youki keeps
//! libcgroups apart from libcontainer): which hierarchies this host mounts (v1 legacy, hybrid
//! or unified v2) as one [`Layout`], where a guest's cgroup `/berth/<name>` lives in each, and
//! what is done to it — made with its limits, cpuset and device allow-list, joined, frozen, updated,
//! pruned. The local runtimes (berth-runtime) and the metrics collector (berth-metrics) take
//! the same `Layout`.

pub mod cpuset;
pub mod devices;
mod error;
pub mod guest;
pub mod layout;

pub use devices::{DeviceRule, DevicesError};
pub use error::CgroupError;
pub use guest::{
    CPU_PERIOD, apply_limits, cpu_quota, create, enter, is_frozen, join_files, kill_all, prune,
    set_frozen,
};
pub use layout::{Hierarchy, Layout, LayoutError, PARENT, guest_dir, process_cgroup};
