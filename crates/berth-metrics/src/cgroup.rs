//! Reads a guest's usage from its cgroup files, on v1 (legacy or hybrid: one hierarchy per
//! controller) and v2 (unified) layouts — the host's [`Layout`], as the runtimes see it. Each
//! read is a handful of small files.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use berth_cgroups::{Hierarchy, Layout};

/// Counters and gauges read from one guest's cgroups.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct CgroupUsage {
    /// CPU time used since the cgroup was made, nanoseconds.
    pub cpu_ns: u64,
    /// Memory charged to the guest, bytes (page cache included, as the kernel charges it).
    pub memory_bytes: u64,
    /// Of that, page cache (file-backed) bytes.
    pub memory_cache_bytes: u64,
    /// The memory limit, `None` when unlimited.
    pub memory_limit_bytes: Option<u64>,
    pub processes: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum CgroupError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{path}: unexpected contents {text:?}")]
    Parse { path: PathBuf, text: String },
    #[error(transparent)]
    Layout(#[from] berth_cgroups::LayoutError),
}

/// v1's "no limit" is a huge page-aligned number; anything above 2^62 means unlimited.
const UNLIMITED_V1: u64 = 1 << 62;

/// Reads `name`'s usage (its cgroup is `<mount>/berth/<name>` in each hierarchy).
pub fn read_usage(layout: &Layout, name: &str) -> Result<CgroupUsage, CgroupError> {
    match layout {
        Layout::V1(_) => {
            let cpu = layout.controller_dir("cpuacct", name)?;
            let mem = layout.controller_dir("memory", name)?;
            let pids = layout.controller_dir("pids", name)?;
            let cpu_ns = read_u64(&cpu.join("cpuacct.usage"))?;
            let memory_bytes = read_u64(&mem.join("memory.usage_in_bytes"))?;
            let stat = read(&mem.join("memory.stat"))?;
            // The hierarchical total counts the guest's own sub-cgroups (systemd's units).
            let cache = stat_value(&stat, "total_cache")
                .or_else(|| stat_value(&stat, "cache"))
                .unwrap_or(0);
            let limit = read_u64(&mem.join("memory.limit_in_bytes"))?;
            Ok(CgroupUsage {
                cpu_ns,
                memory_bytes,
                memory_cache_bytes: cache,
                memory_limit_bytes: (limit < UNLIMITED_V1).then_some(limit),
                processes: read_u64(&pids.join("pids.current"))?,
            })
        }
        Layout::V2(root) => {
            let dir = berth_cgroups::guest_dir(root, name);
            let cpu_stat = read(&dir.join("cpu.stat"))?;
            let usage_usec =
                stat_value(&cpu_stat, "usage_usec").ok_or_else(|| CgroupError::Parse {
                    path: dir.join("cpu.stat"),
                    text: cpu_stat.clone(),
                })?;
            let stat = read(&dir.join("memory.stat"))?;
            let max = read(&dir.join("memory.max"))?;
            Ok(CgroupUsage {
                cpu_ns: usage_usec.saturating_mul(1000),
                memory_bytes: read_u64(&dir.join("memory.current"))?,
                memory_cache_bytes: stat_value(&stat, "file").unwrap_or(0),
                memory_limit_bytes: max.trim().parse().ok(),
                processes: read_u64(&dir.join("pids.current"))?,
            })
        }
    }
}

/// Whether `layout` has every hierarchy [`read_usage`] reads (cpuacct, memory and pids on v1);
/// the reason otherwise.
pub fn check_readable(layout: &Layout) -> Result<(), berth_cgroups::LayoutError> {
    for controller in ["cpuacct", "memory", "pids"] {
        layout.controller_dir(controller, "probe")?;
    }
    Ok(())
}

fn read(path: &Path) -> Result<String, CgroupError> {
    fs::read_to_string(path).map_err(|source| CgroupError::Io {
        path: path.to_owned(),
        source,
    })
}

fn read_u64(path: &Path) -> Result<u64, CgroupError> {
    let text = read(path)?;
    text.trim().parse().map_err(|_| CgroupError::Parse {
        path: path.to_owned(),
        text,
    })
}

/// The value of `key` in a `key value` per line file (`memory.stat`, `cpu.stat`).
pub fn stat_value(text: &str, key: &str) -> Option<u64> {
    text.lines().find_map(|line| {
        let (k, v) = line.split_once(' ')?;
        (k == key).then(|| v.trim().parse().ok()).flatten()
    })
}

/// Writes a synthetic guest cgroup for tests and benchmarks, in either layout.
pub mod synthetic {
    use super::*;

    /// A layout rooted in `root` (a temp dir), v1 with three hierarchies or v2.
    pub fn layout(root: &Path, v2: bool) -> Layout {
        if v2 {
            return Layout::V2(root.join("unified"));
        }
        let hierarchy = |dir: &str, controllers: &[&str]| Hierarchy {
            mount: root.join(dir),
            controllers: controllers.iter().map(|c| (*c).to_owned()).collect(),
        };
        Layout::V1(vec![
            hierarchy("cpu,cpuacct", &["cpu", "cpuacct"]),
            hierarchy("memory", &["memory"]),
            hierarchy("pids", &["pids"]),
        ])
    }

    /// Writes `usage` as the kernel would show it for guest `name`.
    pub fn write(layout: &Layout, name: &str, usage: &CgroupUsage) -> io::Result<()> {
        let dir = |controller: &'static str| {
            layout
                .controller_dir(controller, name)
                .map_err(|e| io::Error::other(e.to_string()))
        };
        match layout {
            Layout::V1(_) => {
                let (c, m, p) = (dir("cpuacct")?, dir("memory")?, dir("pids")?);
                for d in [&c, &m, &p] {
                    fs::create_dir_all(d)?;
                }
                fs::write(c.join("cpuacct.usage"), format!("{}\n", usage.cpu_ns))?;
                fs::write(
                    m.join("memory.usage_in_bytes"),
                    format!("{}\n", usage.memory_bytes),
                )?;
                fs::write(
                    m.join("memory.stat"),
                    format!(
                        "cache 1\nrss 2\nhierarchical_memory_limit 3\ntotal_cache {}\ntotal_rss {}\n",
                        usage.memory_cache_bytes,
                        usage.memory_bytes.saturating_sub(usage.memory_cache_bytes)
                    ),
                )?;
                fs::write(
                    m.join("memory.limit_in_bytes"),
                    format!(
                        "{}\n",
                        usage.memory_limit_bytes.unwrap_or(9223372036854771712)
                    ),
                )?;
                fs::write(p.join("pids.current"), format!("{}\n", usage.processes))
            }
            Layout::V2(_) => {
                let d = dir("memory")?;
                fs::create_dir_all(&d)?;
                fs::write(
                    d.join("cpu.stat"),
                    format!(
                        "usage_usec {}\nuser_usec 0\nsystem_usec 0\n",
                        usage.cpu_ns / 1000
                    ),
                )?;
                fs::write(
                    d.join("memory.current"),
                    format!("{}\n", usage.memory_bytes),
                )?;
                fs::write(
                    d.join("memory.stat"),
                    format!(
                        "anon {}\nfile {}\nkernel 0\n",
                        usage.memory_bytes.saturating_sub(usage.memory_cache_bytes),
                        usage.memory_cache_bytes
                    ),
                )?;
                fs::write(
                    d.join("memory.max"),
                    usage
                        .memory_limit_bytes
                        .map_or("max\n".to_owned(), |l| format!("{l}\n")),
                )?;
                fs::write(d.join("pids.current"), format!("{}\n", usage.processes))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> CgroupUsage {
        CgroupUsage {
            cpu_ns: 5_000_000_000,
            memory_bytes: 300 << 20,
            memory_cache_bytes: 100 << 20,
            memory_limit_bytes: Some(512 << 20),
            processes: 17,
        }
    }

    #[test]
    fn reads_both_layouts() -> Result<(), Box<dyn std::error::Error>> {
        for v2 in [false, true] {
            let dir = tempfile::tempdir()?;
            let layout = synthetic::layout(dir.path(), v2);
            synthetic::write(&layout, "web1", &sample())?;
            assert_eq!(read_usage(&layout, "web1")?, sample(), "v2={v2}");
            let unlimited = CgroupUsage {
                memory_limit_bytes: None,
                ..sample()
            };
            synthetic::write(&layout, "web2", &unlimited)?;
            assert_eq!(read_usage(&layout, "web2")?.memory_limit_bytes, None);
            assert!(matches!(
                read_usage(&layout, "gone"),
                Err(CgroupError::Io { .. })
            ));
        }
        Ok(())
    }

    #[test]
    fn stat_lookup() {
        assert_eq!(stat_value("a 1\nab 2\n", "ab"), Some(2));
        assert_eq!(stat_value("a x\n", "a"), None);
    }
}
