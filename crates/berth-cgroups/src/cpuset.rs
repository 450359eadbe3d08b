//! Which host CPUs a guest runs on, so that `nproc` (`sched_getaffinity`) and lxcfs'
//! `/proc/cpuinfo` and `/sys/devices/system/cpu/online` inside it show its CPU limit:
//! `ceil(limit)` CPUs, or every host CPU when the limit is unset or not below the host's count.
//!
//! How CPUs are chosen: each host CPU's load is the number of *other* running guests whose
//! cpuset holds it (read from their cgroups `/berth/*`, so stopped guests count for nothing);
//! the guest gets the least-loaded CPUs, ties going first to CPUs it already has (a live
//! change keeps what it can) and then to the lowest number. Two guests starting at the very
//! same moment may pick the same CPU; the next start or limit change spreads them again.
//!
//! Where the set is written: the v1 `cpuset` hierarchy, or on cgroup v2 the unified tree with
//! the `cpuset` controller enabled in `/` and `/berth`'s `cgroup.subtree_control`. A host
//! without a cpuset controller gets no cpuset (`pick` says `None`).

use std::fs;
use std::path::{Path, PathBuf};

use crate::error::{CgroupError, io_err};
use crate::layout::{Layout, PARENT, guest_dir};

fn read(path: &Path) -> Result<String, CgroupError> {
    fs::read_to_string(path)
        .map(|s| s.trim().to_owned())
        .map_err(io_err(path))
}

fn write(path: &Path, value: &str) -> Result<(), CgroupError> {
    fs::write(path, value).map_err(io_err(path))
}

/// Parses the kernel's CPU list syntax (`0-3,6`, empty for none); sorted, no duplicates.
pub fn parse_list(text: &str) -> Option<Vec<u32>> {
    let mut cpus = Vec::new();
    for part in text.trim().split(',').filter(|p| !p.is_empty()) {
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b): (u32, u32) = (a.trim().parse().ok()?, b.trim().parse().ok()?);
                if b < a || b - a > 65_536 {
                    return None;
                }
                cpus.extend(a..=b);
            }
            None => cpus.push(part.trim().parse().ok()?),
        }
    }
    cpus.sort_unstable();
    cpus.dedup();
    Some(cpus)
}

/// Writes `cpus` (sorted) in the kernel's list syntax, ranges folded: `[0, 1, 2, 5]` → `0-2,5`.
pub fn format_list(cpus: &[u32]) -> String {
    let mut parts = Vec::new();
    let mut i = 0;
    while i < cpus.len() {
        let start = cpus[i];
        while i + 1 < cpus.len() && cpus[i + 1] == cpus[i] + 1 {
            i += 1;
        }
        parts.push(if cpus[i] == start {
            start.to_string()
        } else {
            format!("{start}-{}", cpus[i])
        });
        i += 1;
    }
    parts.join(",")
}

/// How many CPUs a guest with CPU limit `cpu` (cores) gets on a host with `host` CPUs.
pub fn count_for(cpu: Option<f64>, host: usize) -> usize {
    match cpu {
        Some(c) if c.is_finite() && c > 0.0 => (c.ceil() as usize).clamp(1, host.max(1)),
        _ => host,
    }
}

/// The `n` least-loaded CPUs of `host`, `others` being the other guests' cpusets; ties go to
/// CPUs in `current`, then to the lowest number. Sorted.
pub fn choose(host: &[u32], others: &[Vec<u32>], current: &[u32], n: usize) -> Vec<u32> {
    let mut ranked: Vec<(usize, bool, u32)> = host
        .iter()
        .map(|&cpu| {
            let load = others.iter().filter(|set| set.contains(&cpu)).count();
            (load, !current.contains(&cpu), cpu)
        })
        .collect();
    ranked.sort_unstable();
    let mut chosen: Vec<u32> = ranked.into_iter().take(n).map(|(_, _, cpu)| cpu).collect();
    chosen.sort_unstable();
    chosen
}

/// Where cpusets live on this host: the hierarchy's mount (v1 `cpuset`, or the v2 root), or
/// `None` when there is no cpuset controller.
fn cpuset_root(layout: &Layout) -> Option<(PathBuf, bool)> {
    match layout {
        Layout::V1(hs) => hs
            .iter()
            .find(|h| h.controllers.iter().any(|c| c == "cpuset"))
            .map(|h| (h.mount.clone(), true)),
        Layout::V2(root) => {
            let controllers = fs::read_to_string(root.join("cgroup.controllers")).ok()?;
            controllers
                .split_whitespace()
                .any(|c| c == "cpuset")
                .then(|| (root.clone(), false))
        }
    }
}

/// The CPUs guests may use: the hierarchy root's (`cpuset.cpus` on v1, `cpuset.cpus.effective`
/// on v2).
fn host_cpus(root: &Path, v1: bool) -> Result<Vec<u32>, CgroupError> {
    let file = root.join(if v1 {
        "cpuset.cpus"
    } else {
        "cpuset.cpus.effective"
    });
    let text = read(&file)?;
    match parse_list(&text) {
        Some(cpus) => Ok(cpus),
        None => Err(CgroupError::Parse {
            path: file,
            value: text,
        }),
    }
}

/// A guest's cpuset as written (`None`: no cgroup, or an empty set, which means all).
fn guest_cpus(dir: &Path) -> Option<Vec<u32>> {
    let text = fs::read_to_string(dir.join("cpuset.cpus")).ok()?;
    parse_list(&text).filter(|c| !c.is_empty())
}

/// The CPU list guest `name` with CPU limit `cpu` should run on (see the module header), or
/// `None` when this host has no cpuset controller. Reads only.
pub fn pick(layout: &Layout, name: &str, cpu: Option<f64>) -> Result<Option<String>, CgroupError> {
    let Some((root, v1)) = cpuset_root(layout) else {
        return Ok(None);
    };
    let host = host_cpus(&root, v1)?;
    let n = count_for(cpu, host.len());
    let mut others = Vec::new();
    if let Ok(entries) = fs::read_dir(root.join(PARENT)) {
        for entry in entries.flatten() {
            if entry.file_name().to_string_lossy() == name
                || !entry.file_type().is_ok_and(|t| t.is_dir())
            {
                continue;
            }
            others.push(guest_cpus(&entry.path()).unwrap_or_else(|| host.clone()));
        }
    }
    let current = guest_cpus(&guest_dir(&root, name)).unwrap_or_default();
    Ok(Some(format_list(&choose(&host, &others, &current, n))))
}

/// On cgroup v2, enables the cpuset controller for `/berth` and its children (`+cpuset` in
/// the root's and `/berth`'s `cgroup.subtree_control`), making `/berth`; nothing on v1 or
/// without the controller. Runtimes that make the guest's cgroup themselves (LXC) need it
/// before they write `cpuset.cpus`.
pub fn delegate(layout: &Layout) -> Result<(), CgroupError> {
    if let Some((root, false)) = cpuset_root(layout) {
        enable_v2(&root)?;
    }
    Ok(())
}

fn enable_v2(root: &Path) -> Result<(), CgroupError> {
    let parent = root.join(PARENT);
    fs::create_dir_all(&parent).map_err(io_err(&parent))?;
    for dir in [root, parent.as_path()] {
        let file = dir.join("cgroup.subtree_control");
        let enabled = fs::read_to_string(&file).unwrap_or_default();
        if !enabled.split_whitespace().any(|c| c == "cpuset") {
            write(&file, "+cpuset")?;
        }
    }
    Ok(())
}

/// Writes `cpus` as guest `name`'s cpuset (nothing without a cpuset controller). On v1 a
/// cgroup's CPUs must stay within its parent's: the guest's own sub-cgroups are moved too,
/// the guest first widened to old ∪ new, then each child, then the guest narrowed.
pub fn apply(layout: &Layout, name: &str, cpus: &str) -> Result<(), CgroupError> {
    let Some((root, v1)) = cpuset_root(layout) else {
        return Ok(());
    };
    let dir = guest_dir(&root, name);
    if v1 {
        set_v1(&dir, cpus)
    } else {
        enable_v2(&root)?;
        write(&dir.join("cpuset.cpus"), cpus)
    }
}

fn set_v1(dir: &Path, cpus: &str) -> Result<(), CgroupError> {
    let file = dir.join("cpuset.cpus");
    let old = parse_list(&read(&file)?).unwrap_or_default();
    let new = parse_list(cpus).unwrap_or_default();
    let mut union: Vec<u32> = old.iter().chain(&new).copied().collect();
    union.sort_unstable();
    union.dedup();
    write(&file, &format_list(&union))?;
    let entries = fs::read_dir(dir).map_err(io_err(dir))?;
    for entry in entries.flatten() {
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            set_v1(&entry.path(), cpus)?;
        }
    }
    write(&file, cpus)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layout::Hierarchy;

    #[test]
    fn lists_round_trip() {
        assert_eq!(parse_list("0-2,5\n"), Some(vec![0, 1, 2, 5]));
        assert_eq!(parse_list(""), Some(vec![]));
        assert_eq!(parse_list("3-1"), None);
        assert_eq!(parse_list("x"), None);
        assert_eq!(format_list(&[0, 1, 2, 5, 7, 8]), "0-2,5,7-8");
        assert_eq!(format_list(&[]), "");
    }

    #[test]
    fn counts_round_the_limit_up_within_the_host() {
        assert_eq!(count_for(Some(0.5), 2), 1);
        assert_eq!(count_for(Some(1.0), 2), 1);
        assert_eq!(count_for(Some(1.01), 4), 2);
        assert_eq!(count_for(Some(8.0), 2), 2);
        assert_eq!(count_for(None, 2), 2);
    }

    #[test]
    fn guests_spread_over_the_least_loaded_cpus() {
        let host = [0, 1, 2, 3];
        assert_eq!(choose(&host, &[], &[], 1), [0]);
        assert_eq!(choose(&host, &[vec![0]], &[], 1), [1]);
        assert_eq!(choose(&host, &[vec![0], vec![1]], &[], 2), [2, 3]);
        // Ties keep what the guest has.
        assert_eq!(choose(&host, &[vec![0]], &[3], 1), [3]);
        assert_eq!(choose(&host, &[vec![0, 1, 2, 3]], &[2], 2), [0, 2]);
        assert_eq!(choose(&host, &[], &[], 9), [0, 1, 2, 3]);
    }

    /// A v2 tree as the kernel shows it, in plain files.
    fn fake_v2(cpus: &str) -> tempfile::TempDir {
        let root = tempfile::tempdir().expect("tempdir");
        let r = root.path();
        fs::write(r.join("cgroup.controllers"), "cpuset cpu io memory pids\n").expect("write");
        fs::write(r.join("cgroup.subtree_control"), "cpu memory pids\n").expect("write");
        fs::write(r.join("cpuset.cpus.effective"), cpus).expect("write");
        root
    }

    fn guest(root: &Path, name: &str, cpus: &str) -> PathBuf {
        let dir = guest_dir(root, name);
        fs::create_dir_all(&dir).expect("mkdir");
        fs::write(dir.join("cpuset.cpus"), cpus).expect("write");
        dir
    }

    #[test]
    fn v2_picks_from_the_unified_tree_and_enables_the_controller() {
        let tree = fake_v2("0-3\n");
        let root = tree.path();
        let layout = Layout::V2(root.to_owned());
        guest(root, "a", "0\n");
        guest(root, "b", "1-2\n");
        let dir = guest(root, "c", "");
        assert_eq!(
            pick(&layout, "c", Some(2.0)).expect("pick").as_deref(),
            Some("0,3")
        );
        assert_eq!(
            pick(&layout, "c", None).expect("pick").as_deref(),
            Some("0-3")
        );
        apply(&layout, "c", "3").expect("apply");
        assert_eq!(read(&dir.join("cpuset.cpus")).expect("read"), "3");
        // A plain file keeps only the last write: what the kernel would be told last.
        let root_ctl = read(&root.join("cgroup.subtree_control")).expect("read");
        assert_eq!(root_ctl, "+cpuset");
        let parent_ctl = read(&root.join(PARENT).join("cgroup.subtree_control")).expect("read");
        assert_eq!(parent_ctl, "+cpuset");
        // Raising the limit keeps CPU 3 and adds the least loaded other one.
        assert_eq!(
            pick(&layout, "c", Some(1.5)).expect("pick").as_deref(),
            Some("0,3")
        );
    }

    #[test]
    fn no_cpuset_controller_means_no_cpuset() {
        let tree = fake_v2("0-1");
        fs::write(tree.path().join("cgroup.controllers"), "cpu memory").expect("write");
        let layout = Layout::V2(tree.path().to_owned());
        assert_eq!(pick(&layout, "a", Some(1.0)).expect("pick"), None);
        apply(&layout, "a", "0").expect("nothing to do");
        assert!(!tree.path().join(PARENT).exists());
    }

    #[test]
    fn v1_moves_sub_cgroups_with_the_guest() {
        let tree = tempfile::tempdir().expect("tempdir");
        let mount = tree.path().join("cpuset");
        fs::create_dir_all(&mount).expect("mkdir");
        fs::write(mount.join("cpuset.cpus"), "0-1\n").expect("write");
        let layout = Layout::V1(vec![Hierarchy {
            mount: mount.clone(),
            controllers: vec!["cpuset".into()],
        }]);
        let dir = guest(&mount, "g", "0-1\n");
        let child = dir.join("payload");
        fs::create_dir_all(&child).expect("mkdir");
        fs::write(child.join("cpuset.cpus"), "0-1\n").expect("write");
        assert_eq!(
            pick(&layout, "g", Some(1.0)).expect("pick").as_deref(),
            Some("0")
        );
        apply(&layout, "g", "1").expect("apply");
        assert_eq!(read(&dir.join("cpuset.cpus")).expect("read"), "1");
        assert_eq!(read(&child.join("cpuset.cpus")).expect("read"), "1");
    }
}
