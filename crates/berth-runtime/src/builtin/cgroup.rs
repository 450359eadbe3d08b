//! The guest's cgroup `/berth/<name>` in every hierarchy: finding the hierarchies (v1, hybrid or
//! v2), writing limits and freezer files, moving a process, and pruning the directories.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::thread::sleep;
use std::time::{Duration, Instant};

use berth_types::Limits;

/// The directory under every hierarchy's root that holds one cgroup per guest.
pub const PARENT: &str = "berth";
/// CFS period used for CPU limits, in microseconds.
pub const CPU_PERIOD: u64 = 100_000;
/// The v1 controllers libcgroups creates a cgroup in (so they can be bind-mounted).
const MANAGED_V1: &[&str] = &[
    "cpu",
    "cpuacct",
    "cpuset",
    "devices",
    "hugetlb",
    "memory",
    "pids",
    "perf_event",
    "blkio",
    "net_prio",
    "net_cls",
    "freezer",
];

#[derive(Debug, thiserror::Error)]
pub enum CgroupError {
    #[error("no cgroup filesystem is mounted under /sys/fs/cgroup")]
    NotMounted,
    #[error("cgroup controller {0} is not available")]
    NoController(&'static str),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("cgroup {0} did not freeze in time")]
    FreezeTimeout(PathBuf),
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> CgroupError + '_ {
    move |source| CgroupError::Io {
        path: path.to_owned(),
        source,
    }
}

/// One mounted v1 hierarchy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hierarchy {
    /// Where it is mounted on the host (`/sys/fs/cgroup/cpu,cpuacct`).
    pub mount: PathBuf,
    /// Its controllers (`cpu`, `cpuacct`) or its name (`name=systemd`).
    pub controllers: Vec<String>,
}

impl Hierarchy {
    /// True for the `name=systemd` hierarchy systemd tracks its units in.
    pub fn is_named_systemd(&self) -> bool {
        self.controllers.iter().any(|c| c == "name=systemd")
    }
    /// True for a hybrid host's cgroup2 mount (`/sys/fs/cgroup/unified`).
    pub fn is_unified(&self) -> bool {
        self.controllers.iter().any(|c| c == UNIFIED)
    }
    /// True when libcgroups creates the guest's cgroup in this hierarchy.
    pub fn is_managed(&self) -> bool {
        self.controllers
            .iter()
            .any(|c| MANAGED_V1.contains(&c.as_str()))
    }
}

/// The pseudo-controller naming a hybrid host's cgroup2 hierarchy.
const UNIFIED: &str = "cgroup2";

/// How cgroups are mounted on this host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Layout {
    /// Legacy or hybrid: one mount per v1 hierarchy, plus a hybrid host's cgroup2 mount.
    V1(Vec<Hierarchy>),
    /// Unified: one cgroup2 mount.
    V2(PathBuf),
}

impl Layout {
    /// Reads `/proc/self/mountinfo` to find the cgroup mounts under `/sys/fs/cgroup`.
    pub fn detect() -> Result<Layout, CgroupError> {
        let path = Path::new("/proc/self/mountinfo");
        let text = fs::read_to_string(path).map_err(io_err(path))?;
        Self::parse(&text).ok_or(CgroupError::NotMounted)
    }

    /// Parses mountinfo text; `None` when no cgroup filesystem is mounted.
    pub fn parse(mountinfo: &str) -> Option<Layout> {
        let mut v1 = Vec::new();
        let mut hybrid = None;
        for line in mountinfo.lines() {
            let Some((left, right)) = line.split_once(" - ") else {
                continue;
            };
            let fields: Vec<&str> = left.split(' ').collect();
            let mut rest = right.split(' ');
            let (Some(fstype), Some(_source), Some(opts)) = (rest.next(), rest.next(), rest.next())
            else {
                continue;
            };
            let (Some(root), Some(mount)) = (fields.get(3), fields.get(4)) else {
                continue;
            };
            let mount = PathBuf::from(unescape(mount));
            if *root != "/" || !mount.starts_with("/sys/fs/cgroup") {
                continue;
            }
            match fstype {
                "cgroup2" if mount == Path::new("/sys/fs/cgroup") => {
                    return Some(Layout::V2(mount));
                }
                "cgroup2" => hybrid = Some(mount),
                "cgroup" => {
                    let controllers: Vec<String> = opts
                        .split(',')
                        .filter(|o| MANAGED_V1.contains(o) || o.starts_with("name="))
                        .chain(opts.split(',').filter(|o| KNOWN_OTHER_V1.contains(o)))
                        .map(str::to_owned)
                        .collect();
                    if !controllers.is_empty() && !v1.iter().any(|h: &Hierarchy| h.mount == mount) {
                        v1.push(Hierarchy { mount, controllers });
                    }
                }
                _ => {}
            }
        }
        if v1.is_empty() {
            return None;
        }
        if let Some(mount) = hybrid {
            v1.push(Hierarchy {
                mount,
                controllers: vec![UNIFIED.to_owned()],
            });
        }
        Some(Layout::V1(v1))
    }

    /// The guest's cgroup directory in every hierarchy.
    pub fn dirs(&self, name: &str) -> Vec<PathBuf> {
        match self {
            Layout::V1(hs) => hs.iter().map(|h| guest_dir(&h.mount, name)).collect(),
            Layout::V2(root) => vec![guest_dir(root, name)],
        }
    }

    /// The guest's cgroup directory for one controller (any directory on v2).
    pub fn controller_dir(
        &self,
        controller: &'static str,
        name: &str,
    ) -> Result<PathBuf, CgroupError> {
        match self {
            Layout::V2(root) => Ok(guest_dir(root, name)),
            Layout::V1(hs) => hs
                .iter()
                .find(|h| h.controllers.iter().any(|c| c == controller))
                .map(|h| guest_dir(&h.mount, name))
                .ok_or(CgroupError::NoController(controller)),
        }
    }

    /// The v1 `name=systemd` hierarchy, if there is one.
    pub fn named_systemd(&self) -> Option<&Hierarchy> {
        match self {
            Layout::V1(hs) => hs.iter().find(|h| h.is_named_systemd()),
            Layout::V2(_) => None,
        }
    }

    /// The hierarchies libcgroups does not place the guest in, which the shim joins itself
    /// before the fork so the guest's cgroup namespace is rooted at its own cgroup there:
    /// `name=systemd` and a hybrid host's cgroup2. Each comes with its `/proc/PID/cgroup` key.
    pub fn self_joined(&self) -> Vec<(&Hierarchy, &'static str)> {
        match self {
            Layout::V1(hs) => hs
                .iter()
                .filter_map(|h| {
                    if h.is_named_systemd() {
                        Some((h, "name=systemd"))
                    } else if h.is_unified() {
                        Some((h, ""))
                    } else {
                        None
                    }
                })
                .collect(),
            Layout::V2(_) => Vec::new(),
        }
    }
}

/// v1 controllers libcgroups does not manage; recognised so their hierarchies are pruned too.
const KNOWN_OTHER_V1: &[&str] = &["rdma", "misc"];

/// `<mount>/berth/<name>`.
pub fn guest_dir(mount: &Path, name: &str) -> PathBuf {
    mount.join(PARENT).join(name)
}

/// Undoes mountinfo's octal escapes (`\040` for a space).
fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            let code: String = chars.by_ref().take(3).collect();
            match u8::from_str_radix(&code, 8) {
                Ok(b) => out.push(char::from(b)),
                Err(_) => {
                    out.push('\\');
                    out.push_str(&code);
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// This process's cgroup path in the hierarchy holding `controller` (`name=systemd`, or `""`
/// for the cgroup2 hierarchy), read from `/proc/<pid>/cgroup`.
pub fn process_cgroup(pid: &str, controller: &str) -> Result<String, CgroupError> {
    let path = PathBuf::from(format!("/proc/{pid}/cgroup"));
    let text = fs::read_to_string(&path).map_err(io_err(&path))?;
    text.lines()
        .filter_map(|l| {
            let mut parts = l.splitn(3, ':');
            let (_id, ctrls, p) = (parts.next()?, parts.next()?, parts.next()?);
            let hit = if controller.is_empty() {
                ctrls.is_empty()
            } else {
                ctrls.split(',').any(|c| c == controller)
            };
            hit.then(|| p.to_owned())
        })
        .next()
        .ok_or(CgroupError::NotMounted)
}

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

/// Writes `limits` to a running guest's cgroup; an absent limit becomes unlimited.
pub fn apply_limits(layout: &Layout, name: &str, limits: &Limits) -> Result<(), CgroupError> {
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

    const HYBRID: &str = "\
25 30 0:22 / /sys rw,nosuid - sysfs sysfs rw
26 25 0:23 / /sys/fs/cgroup ro - tmpfs tmpfs ro,mode=755
27 26 0:24 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw,nsdelegate
28 26 0:25 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,xattr,name=systemd
29 26 0:26 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct
30 26 0:27 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory
31 26 0:28 /sub /sys/fs/cgroup/bound rw - cgroup cgroup rw,pids
";

    #[test]
    fn parses_hybrid_mountinfo() {
        let Some(Layout::V1(hs)) = Layout::parse(HYBRID) else {
            panic!("not v1");
        };
        assert_eq!(hs.len(), 4);
        assert!(hs[3].is_unified());
        assert!(hs[0].is_named_systemd() && !hs[0].is_managed());
        assert_eq!(hs[1].controllers, ["cpu", "cpuacct"]);
        let layout = Layout::V1(hs);
        assert_eq!(
            layout.controller_dir("cpuacct", "a").ok(),
            Some(PathBuf::from("/sys/fs/cgroup/cpu,cpuacct/berth/a"))
        );
        assert!(layout.controller_dir("pids", "a").is_err());
        assert_eq!(layout.self_joined().len(), 2);
    }

    #[test]
    fn parses_unified_mountinfo() {
        let text = "26 25 0:23 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw,nsdelegate\n";
        assert_eq!(
            Layout::parse(text),
            Some(Layout::V2(PathBuf::from("/sys/fs/cgroup")))
        );
        assert_eq!(Layout::parse("1 0 0:1 / / rw - ext4 /dev/vda rw\n"), None);
    }

    #[test]
    fn quota_and_unescape() {
        assert_eq!(cpu_quota(1.5), 150_000);
        assert_eq!(cpu_quota(0.01), 1_000);
        assert_eq!(unescape(r"/a\040b"), "/a b");
    }
}
