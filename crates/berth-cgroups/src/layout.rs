//! Which cgroup hierarchies this host mounts (v1 legacy, hybrid or unified v2), and where the
//! guest's cgroup `/berth/<name>` lives in each.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

/// The directory under every hierarchy's root that holds one cgroup per guest.
pub const PARENT: &str = "berth";
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
pub enum LayoutError {
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
    pub fn detect() -> Result<Layout, LayoutError> {
        let path = Path::new("/proc/self/mountinfo");
        let text = fs::read_to_string(path).map_err(|source| LayoutError::Io {
            path: path.to_owned(),
            source,
        })?;
        Self::parse(&text).ok_or(LayoutError::NotMounted)
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
    ) -> Result<PathBuf, LayoutError> {
        match self {
            Layout::V2(root) => Ok(guest_dir(root, name)),
            Layout::V1(hs) => hs
                .iter()
                .find(|h| h.controllers.iter().any(|c| c == controller))
                .map(|h| guest_dir(&h.mount, name))
                .ok_or(LayoutError::NoController(controller)),
        }
    }

    /// The guest's cgroup in the cgroup2 hierarchy (unified, or a hybrid host's), if any.
    pub fn unified_dir(&self, name: &str) -> Option<PathBuf> {
        match self {
            Layout::V2(root) => Some(guest_dir(root, name)),
            Layout::V1(hs) => hs
                .iter()
                .find(|h| h.is_unified())
                .map(|h| guest_dir(&h.mount, name)),
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
pub fn process_cgroup(pid: &str, controller: &str) -> Result<String, LayoutError> {
    let path = PathBuf::from(format!("/proc/{pid}/cgroup"));
    let text = fs::read_to_string(&path).map_err(|source| LayoutError::Io {
        path: path.clone(),
        source,
    })?;
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
        .ok_or(LayoutError::NotMounted)
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
    fn unescapes_mountinfo_paths() {
        assert_eq!(unescape(r"/a\040b"), "/a b");
    }
}
