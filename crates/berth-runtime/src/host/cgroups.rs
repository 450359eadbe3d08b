//! The guest's cgroup `/berth/<name>` for a host-tool backend: made with its limits and
//! device rules before the tool runs, joined by the tool, searched for the guest's init.

use std::fs::{self, File, OpenOptions};
use std::path::{Path, PathBuf};

use berth_types::Limits;

use crate::builtin::cgroup::{self, CgroupError, Layout};
use crate::builtin::devices::{self, DeviceRule};
use crate::builtin::security::DEVICE_RULES;

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> CgroupError + '_ {
    move |source| CgroupError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Creates the guest's cgroup in every hierarchy, with `limits` and the device allow-list.
pub fn create(layout: &Layout, name: &str, limits: &Limits) -> Result<(), CgroupError> {
    for dir in layout.dirs(name) {
        fs::create_dir_all(&dir).map_err(io(&dir))?;
    }
    if let Layout::V1(hs) = layout {
        // A new v1 cpuset has no cpus or memory nodes; nothing can join it until it has.
        if let Some(h) = hs
            .iter()
            .find(|h| h.controllers.iter().any(|c| c == "cpuset"))
        {
            let parent = h.mount.join(cgroup::PARENT);
            inherit_cpuset(&h.mount, &parent)?;
            inherit_cpuset(&parent, &cgroup::guest_dir(&h.mount, name))?;
        }
    }
    cgroup::apply_limits(layout, name, limits)?;
    match layout {
        Layout::V1(_) => {
            let dir = layout.controller_dir("devices", name)?;
            write(&dir.join("devices.deny"), "a")?;
            for rule in DEVICE_RULES {
                write(&dir.join("devices.allow"), &v1_rule(rule))?;
            }
        }
        Layout::V2(_) => {}
    }
    if let Some(dir) = layout.unified_dir(name) {
        devices::attach(&dir, DEVICE_RULES).map_err(|e| CgroupError::Io {
            path: dir.clone(),
            source: std::io::Error::other(e.to_string()),
        })?;
    }
    Ok(())
}

fn write(path: &Path, value: &str) -> Result<(), CgroupError> {
    fs::write(path, value).map_err(io(path))
}

fn inherit_cpuset(from: &Path, to: &Path) -> Result<(), CgroupError> {
    for file in ["cpuset.cpus", "cpuset.mems"] {
        let target = to.join(file);
        let current = fs::read_to_string(&target).map_err(io(&target))?;
        if current.trim().is_empty() {
            let source = from.join(file);
            let value = fs::read_to_string(&source).map_err(io(&source))?;
            write(&target, value.trim())?;
        }
    }
    Ok(())
}

/// `c 1:3 rwm` for the v1 `devices.allow` file.
fn v1_rule(rule: &DeviceRule) -> String {
    let num = |n: Option<u32>| n.map_or("*".to_owned(), |n| n.to_string());
    format!(
        "{} {}:{} {}",
        rule.kind.unwrap_or('a'),
        num(rule.major),
        num(rule.minor),
        rule.access
    )
}

/// `cgroup.procs` of the guest's cgroup in every hierarchy, open for writing: a process
/// writes `0` to each to join them all.
pub fn join_files(layout: &Layout, name: &str) -> Result<Vec<File>, CgroupError> {
    layout
        .dirs(name)
        .into_iter()
        .map(|dir| {
            let path = dir.join("cgroup.procs");
            OpenOptions::new()
                .write(true)
                .open(&path)
                .map_err(io(&path))
        })
        .collect()
}

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
    fn v1_rules_use_wildcards() {
        let rule = DeviceRule {
            kind: Some('c'),
            major: Some(136),
            minor: None,
            access: "rwm",
        };
        assert_eq!(v1_rule(&rule), "c 136:* rwm");
        let any = DeviceRule {
            kind: None,
            major: None,
            minor: None,
            access: "m",
        };
        assert_eq!(v1_rule(&any), "a *:* m");
    }

    #[test]
    fn this_process_is_no_namespace_init() {
        assert!(!is_namespace_init(std::process::id() as i32));
    }
}
