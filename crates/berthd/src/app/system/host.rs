//! The host view admins get in `GET /system`: uptime, CPU, kernel, load, memory and each storage
//! pool's file system, read from /proc, uname and statfs at the time of the request.

use std::path::Path;

use berth_types::host::{HostView, LoadAverage, PoolUsage};

use super::{cpu_model, meminfo_bytes, uptime_seconds};

/// The host now; `pools` are `(name, path)` of each storage pool.
pub(super) fn read(kernel: String, pools: &[(String, String)]) -> HostView {
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let load_average = std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|text| LoadAverage::parse(&text))
        .unwrap_or_default();
    HostView {
        uptime_seconds: uptime_seconds(),
        cpu_model: cpu_model(&std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default()),
        cpus: super::cpus(),
        kernel,
        load_average,
        memory_total: meminfo_bytes(&meminfo, "MemTotal:"),
        memory_available: meminfo_bytes(&meminfo, "MemAvailable:"),
        pools: pools
            .iter()
            .map(|(name, path)| pool_usage(name, path))
            .collect(),
    }
}

/// A pool's file system by statfs: size, used (blocks not free) and free to unprivileged
/// writers (`f_bavail`), in bytes; all absent when it cannot be read.
pub(crate) fn pool_usage(name: &str, path: &str) -> PoolUsage {
    let stat = nix::sys::statvfs::statvfs(Path::new(path)).ok();
    let bytes = |blocks: u64, stat: &nix::sys::statvfs::Statvfs| {
        blocks.saturating_mul(stat.fragment_size())
    };
    PoolUsage {
        name: name.to_owned(),
        path: path.to_owned(),
        size: stat.as_ref().map(|s| bytes(s.blocks(), s)),
        used: stat
            .as_ref()
            .map(|s| bytes((s.blocks()).saturating_sub(s.blocks_free()), s)),
        free: stat.as_ref().map(|s| bytes(s.blocks_available(), s)),
    }
}
