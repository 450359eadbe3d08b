//! lxcfs, the FUSE filesystem that shows each guest its own memory, CPUs, load and uptime in
//! `/proc` and `/sys` (computed from the cgroup of the process reading them): where berthd's
//! instance is mounted, which of its files a guest gets bind-mounted, and how it is kept
//! running (`supervise`).
//!
//! One lxcfs serves every guest. Its mount lives under berthd's runtime directory
//! (`<runtime_dir>/lxcfs/mnt`), not `/var/lib/lxcfs`, so a host's own lxcfs (and LXC's
//! `00-lxcfs.conf` hook, which looks there) is left alone. A guest bind-mounts each file of
//! [`GUEST_FILES`] over its own; when lxcfs is restarted those binds point at a dead FUSE
//! connection and must be made again: [`Lxcfs::instance`] names the lxcfs a guest was given
//! (the start time of its process, which the supervisor records), so a guest whose instance
//! is not the current one is re-attached.

pub mod reattach;
pub mod supervise;

use std::path::{Path, PathBuf};

/// The files a guest gets from lxcfs, as paths inside the guest (and under the mount).
pub const GUEST_FILES: &[&str] = &[
    "/proc/cpuinfo",
    "/proc/diskstats",
    "/proc/loadavg",
    "/proc/meminfo",
    "/proc/stat",
    "/proc/swaps",
    "/proc/uptime",
    "/proc/slabinfo",
    "/sys/devices/system/cpu/online",
];

/// The options berthd runs lxcfs with: CPU views from the cgroup's CFS quota (`nproc` in
/// `/proc/cpuinfo` and `/sys/devices/system/cpu/online`, `top`'s CPU lines) and per-guest
/// load averages. Swap stays virtualised (the guest's RAM+swap limit).
pub const OPTIONS: &[&str] = &["--enable-cfs", "--enable-loadavg"];

/// berthd's lxcfs instance under `dir` (`<runtime_dir>/lxcfs`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lxcfs {
    dir: PathBuf,
}

/// One bind mount a guest gets: `source` (under the lxcfs mount) over `target` (a path in
/// the guest).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GuestBind {
    pub source: PathBuf,
    pub target: &'static str,
}

const FUSE_SUPER_MAGIC: i64 = 0x6573_5546;

impl Lxcfs {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Where the filesystem is mounted.
    pub fn mount_point(&self) -> PathBuf {
        self.dir.join("mnt")
    }

    /// Held by the running supervisor (flock).
    pub fn lock_file(&self) -> PathBuf {
        self.dir.join("supervisor.lock")
    }

    pub fn supervisor_pid_file(&self) -> PathBuf {
        self.dir.join("supervisor.pid")
    }

    /// lxcfs's own pid file (`lxcfs -p`).
    pub fn lxcfs_pid_file(&self) -> PathBuf {
        self.dir.join("lxcfs.pid")
    }

    pub fn log_file(&self) -> PathBuf {
        self.dir.join("lxcfs.log")
    }

    /// Where the supervisor records the running lxcfs's instance.
    pub fn instance_file(&self) -> PathBuf {
        self.dir.join("instance")
    }

    /// The lxcfs answering at the mount now, named by its process's start time (clock ticks
    /// since boot; the supervisor never starts two within one tick), or `None` when nothing
    /// answers there. (A device number would not do: a new FUSE mount reuses the last one's.)
    pub fn instance(&self) -> Option<u64> {
        let mount = self.mount_point();
        let st = rustix::fs::statfs(&mount).ok()?;
        if st.f_type != FUSE_SUPER_MAGIC {
            return None;
        }
        // A dead FUSE connection fails here (ENOTCONN).
        std::fs::read(mount.join("proc/uptime")).ok()?;
        std::fs::read_to_string(self.instance_file())
            .ok()?
            .trim()
            .parse()
            .ok()
    }

    /// The bind mounts a guest gets: every file of [`GUEST_FILES`] this lxcfs provides.
    pub fn guest_binds(&self) -> Vec<GuestBind> {
        let mount = self.mount_point();
        GUEST_FILES
            .iter()
            .map(|target| GuestBind {
                source: mount.join(target.trim_start_matches('/')),
                target,
            })
            .filter(|b| b.source.exists())
            .collect()
    }
}

/// The start time (field 22 of `/proc/PID/stat`, clock ticks since boot) of `pid`.
pub(crate) fn start_time(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces: count fields after its closing paren.
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(19)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_time_of_this_process() {
        let ours = start_time(std::process::id()).expect("readable");
        assert!(ours > 0);
    }
}
