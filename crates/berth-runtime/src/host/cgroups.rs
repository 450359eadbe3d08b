//! Finding a host-tool guest's init in its cgroup `/berth/<name>`.

use std::fs;
use std::path::PathBuf;

use berth_cgroups::Layout;

/// The host pid of the guest's init: the process in the guest's cgroup (or below) that is
/// pid 1 of a pid namespace of its own.
pub fn find_init(layout: &Layout, name: &str) -> Option<i32> {
    let dir = layout.controller_dir("pids", name).ok()?;
    let mut pending: Vec<PathBuf> = vec![dir];
    while let Some(dir) = pending.pop() {
        let procs = fs::read_to_string(dir.join("cgroup.procs")).unwrap_or_default();
        for pid in procs.lines().filter_map(|l| l.trim().parse::<i32>().ok()) {
            if is_namespace_init(pid) {
                return Some(pid);
            }
        }
        for entry in fs::read_dir(&dir).into_iter().flatten().flatten() {
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                pending.push(entry.path());
            }
        }
    }
    None
}

/// Whether `pid`'s innermost pid (the last `NSpid` field) is 1 in a nested namespace.
fn is_namespace_init(pid: i32) -> bool {
    let Ok(status) = fs::read_to_string(format!("/proc/{pid}/status")) else {
        return false;
    };
    status
        .lines()
        .find_map(|l| l.strip_prefix("NSpid:"))
        .is_some_and(|ids| {
            let ids: Vec<&str> = ids.split_whitespace().collect();
            ids.len() > 1 && ids.last() == Some(&"1")
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_no_namespace_init() {
        assert!(!is_namespace_init(std::process::id() as i32));
    }
}
