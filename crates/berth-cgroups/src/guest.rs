//! A guest's cgroup `/berth/<name>` in every hierarchy: made with its limits and device
//! allow-list, joined, frozen and thawed, given new limits, and pruned when the guest is gone.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::path::Path;
use std::thread::sleep;
use std::time::{Duration, Instant};

use berth_types::Limits;

use crate::cpuset;
use crate::devices::{self, DeviceRule};
use crate::error::{CgroupError, io_err};
use crate::layout::{Layout, PARENT, guest_dir};

/// CFS period used for CPU limits, in microseconds.
pub const CPU_PERIOD: u64 = 100_000;

/// Moves the calling process into `dir` of a hierarchy, creating it.
pub fn enter(dir: &Path) -> Result<(), CgroupError> {
    fs::create_dir_all(dir).map_err(io_err(dir))?;
    write(&dir.join("cgroup.procs"), &std::process::id().to_string())
}

fn write(path: &Path, value: &str) -> Result<(), CgroupError> {
    fs::write(path, value).map_err(io_err(path))
}

fn read(path: &Path) -> Result<String, CgroupError> {
    fs::read_to_string(path)
        .map(|s| s.trim().to_owned())
        .map_err(io_err(path))
}

/// Freezes (`true`) or thaws the guest, waiting until the kernel reports the new state.
pub fn set_frozen(layout: &Layout, name: &str, frozen: bool) -> Result<(), CgroupError> {
    let dir = layout.controller_dir("freezer", name)?;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match layout {
            Layout::V1(_) => write(
                &dir.join("freezer.state"),
                if frozen { "FROZEN" } else { "THAWED" },
            )?,
            Layout::V2(_) => write(&dir.join("cgroup.freeze"), if frozen { "1" } else { "0" })?,
        }
        if is_frozen(layout, name)? == frozen {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(CgroupError::FreezeTimeout(dir));
        }
        sleep(Duration::from_millis(5));
    }
}

/// Whether the guest's processes are frozen (a v1 `FREEZING` counts as not yet).
pub fn is_frozen(layout: &Layout, name: &str) -> Result<bool, CgroupError> {
    let dir = layout.controller_dir("freezer", name)?;
    match layout {
        Layout::V1(_) => Ok(read(&dir.join("freezer.state"))? == "FROZEN"),
        Layout::V2(_) => {
            let events = read(&dir.join("cgroup.events"))?;
            Ok(events.lines().any(|l| l == "frozen 1"))
        }
    }
}

/// Writes `limits` to a running guest's cgroup; an absent limit becomes unlimited. Its
/// cpuset follows the CPU limit (`cpuset::pick`, keeping the CPUs it has where it can).
pub fn apply_limits(layout: &Layout, name: &str, limits: &Limits) -> Result<(), CgroupError> {
    write_limits(layout, name, limits)?;
    if let Some(cpus) = cpuset::pick(layout, name, limits.cpu)? {
        cpuset::apply(layout, name, &cpus)?;
    }
    Ok(())
}

/// The CPU quota, memory and process limits (not the cpuset).
fn write_limits(layout: &Layout, name: &str, limits: &Limits) -> Result<(), CgroupError> {
    let cpu = layout.controller_dir("cpu", name)?;
    let mem = layout.controller_dir("memory", name)?;
    let pids = layout.controller_dir("pids", name)?;
    let quota = limits.cpu.map(cpu_quota);
    let pids_max = limits.processes.map_or("max".to_owned(), |p| p.to_string());
    match layout {
        Layout::V1(_) => {
            write(&cpu.join("cpu.cfs_period_us"), &CPU_PERIOD.to_string())?;
            write(
                &cpu.join("cpu.cfs_quota_us"),
                &quota.map_or("-1".to_owned(), |q| q.to_string()),
            )?;
            set_v1_memory(&mem, limits.memory)?;
        }
        Layout::V2(_) => {
            let max = quota.map_or("max".to_owned(), |q| q.to_string());
            write(&cpu.join("cpu.max"), &format!("{max} {CPU_PERIOD}"))?;
            let mem_max = limits.memory.map_or("max".to_owned(), |m| m.to_string());
            write(&mem.join("memory.max"), &mem_max)?;
            let swap = mem.join("memory.swap.max");
            if swap.exists() {
                write(&swap, if limits.memory.is_some() { "0" } else { "max" })?;
            }
        }
    }
    write(&pids.join("pids.max"), &pids_max)
}

/// CFS quota in microseconds per period for `cpu` cores.
pub fn cpu_quota(cpu: f64) -> u64 {
    // Validated limits are 0.01..=1024 cores, so this fits and is at least 1000 µs.
    (cpu * CPU_PERIOD as f64).round() as u64
}

/// v1 memory: RAM and RAM+swap set to the same value, in the order the kernel accepts.
fn set_v1_memory(dir: &Path, memory: Option<u64>) -> Result<(), CgroupError> {
    let value = memory.map_or("-1".to_owned(), |m| m.to_string());
    let limit = dir.join("memory.limit_in_bytes");
    let memsw = dir.join("memory.memsw.limit_in_bytes");
    if !memsw.exists() {
        return write(&limit, &value);
    }
    let current: u64 = read(&limit)?.parse().unwrap_or(u64::MAX);
    if memory.unwrap_or(u64::MAX) > current {
        write(&memsw, &value)?;
        write(&limit, &value)
    } else {
        write(&limit, &value)?;
        write(&memsw, &value)
    }
}

/// Creates the guest's cgroup in every hierarchy with `limits` and the cpuset `cpus` (from
/// `cpuset::pick`; `None`: the parent's), and lets it use only the devices `rules` allow (v1
/// `devices.allow`, and the eBPF filter on a cgroup2 hierarchy).
pub fn create(
    layout: &Layout,
    name: &str,
    limits: &Limits,
    cpus: Option<&str>,
    rules: &[DeviceRule],
) -> Result<(), CgroupError> {
    for dir in layout.dirs(name) {
        fs::create_dir_all(&dir).map_err(io_err(&dir))?;
    }
    if let Layout::V1(hs) = layout {
        // A new v1 cpuset has no cpus or memory nodes; nothing can join it until it has.
        if let Some(h) = hs
            .iter()
            .find(|h| h.controllers.iter().any(|c| c == "cpuset"))
        {
            let parent = h.mount.join(PARENT);
            inherit_cpuset(&h.mount, &parent)?;
            inherit_cpuset(&parent, &guest_dir(&h.mount, name))?;
        }
    }
    write_limits(layout, name, limits)?;
    if let Some(cpus) = cpus {
        cpuset::apply(layout, name, cpus)?;
    }
    if let Layout::V1(_) = layout {
        let dir = layout.controller_dir("devices", name)?;
        write(&dir.join("devices.deny"), "a")?;
        for rule in rules {
            write(&dir.join("devices.allow"), &rule.v1_text())?;
        }
    }
    if let Some(dir) = layout.unified_dir(name) {
        devices::attach(&dir, rules)?;
    }
    Ok(())
}

fn inherit_cpuset(from: &Path, to: &Path) -> Result<(), CgroupError> {
    for file in ["cpuset.cpus", "cpuset.mems"] {
        let target = to.join(file);
        let current = fs::read_to_string(&target).map_err(io_err(&target))?;
        if current.trim().is_empty() {
            let source = from.join(file);
            let value = fs::read_to_string(&source).map_err(io_err(&source))?;
            write(&target, value.trim())?;
        }
    }
    Ok(())
}

/// `cgroup.procs` of the guest's cgroup in every hierarchy, open for writing: a process
/// writes `0` to each to join them all (between fork and exec, where nothing may allocate).
pub fn join_files(layout: &Layout, name: &str) -> Result<Vec<File>, CgroupError> {
    layout
        .dirs(name)
        .into_iter()
        .map(|dir| {
            let path = dir.join("cgroup.procs");
            OpenOptions::new()
                .write(true)
                .open(&path)
                .map_err(io_err(&path))
        })
        .collect()
}

/// SIGKILLs every process still in the guest's cgroup, in any hierarchy (what an OCI
/// runtime's forced delete does before removing the cgroups); a cgroup already gone is fine.
pub fn kill_all(layout: &Layout, name: &str) -> Result<(), CgroupError> {
    for dir in layout.dirs(name) {
        let path = dir.join("cgroup.procs");
        let procs = match fs::read_to_string(&path) {
            Ok(procs) => procs,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(io_err(&path)(e)),
        };
        for pid in procs.lines().filter_map(|l| l.trim().parse::<i32>().ok()) {
            // SAFETY: kill(2) has no memory-safety preconditions; a pid that already exited
            // (ESRCH) is what we want anyway.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
    }
    Ok(())
}

/// Removes the guest's cgroup (and any sub-cgroups its systemd made) in every hierarchy, then
/// `/berth` where it is left empty. Retries while dying processes still hold a cgroup.
pub fn prune(layout: &Layout, name: &str) -> Result<(), CgroupError> {
    let mut first_err = None;
    for dir in layout.dirs(name) {
        if let Err(e) = remove_tree(&dir) {
            first_err.get_or_insert(e);
        }
        if let Some(parent) = dir.parent() {
            // Fails while other guests live there; that is expected.
            let _ = fs::remove_dir(parent);
        }
    }
    first_err.map_or(Ok(()), Err)
}

fn remove_tree(dir: &Path) -> Result<(), CgroupError> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(io_err(dir)(e)),
    };
    for entry in entries.flatten() {
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            remove_tree(&entry.path())?;
        }
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match fs::remove_dir(dir) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) && Instant::now() < deadline => {
                sleep(Duration::from_millis(10));
            }
            Err(e) => return Err(io_err(dir)(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quota_in_microseconds() {
        assert_eq!(cpu_quota(1.5), 150_000);
        assert_eq!(cpu_quota(0.01), 1_000);
    }
}
