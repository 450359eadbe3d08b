//! Host totals: CPU time from `/proc/stat`, memory from `/proc/meminfo`, process count from
//! `/proc/loadavg`.

use std::fs;
use std::path::Path;

/// One reading of the host's counters.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct HostUsage {
    /// Busy CPU time summed over all CPUs (everything but idle and iowait), nanoseconds.
    pub cpu_busy_ns: u64,
    pub memory_total_bytes: u64,
    /// Total minus available.
    pub memory_used_bytes: u64,
    /// Page cache and buffers.
    pub memory_cache_bytes: u64,
    pub processes: u64,
}

/// Reads the host's totals from `proc` (normally `/proc`).
pub fn read(proc: &Path) -> Option<HostUsage> {
    let stat = fs::read_to_string(proc.join("stat")).ok()?;
    let meminfo = fs::read_to_string(proc.join("meminfo")).ok()?;
    let loadavg = fs::read_to_string(proc.join("loadavg")).ok()?;
    let (total, available, cache) = parse_meminfo(&meminfo)?;
    Some(HostUsage {
        cpu_busy_ns: parse_stat_busy_ns(&stat)?,
        memory_total_bytes: total,
        memory_used_bytes: total.saturating_sub(available),
        memory_cache_bytes: cache,
        processes: loadavg
            .split_whitespace()
            .nth(3)
            .and_then(|rt| rt.split_once('/'))
            .and_then(|(_, total)| total.parse().ok())
            .unwrap_or(0),
    })
}

/// Clock ticks per second of `/proc/stat`; Linux reports USER_HZ = 100 on every architecture.
const USER_HZ: u64 = 100;

fn parse_stat_busy_ns(stat: &str) -> Option<u64> {
    let line = stat.lines().find(|l| l.starts_with("cpu "))?;
    let fields: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|f| f.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal (guest time is already in user).
    let busy: u64 = fields
        .iter()
        .take(8)
        .enumerate()
        .filter(|(i, _)| *i != 3 && *i != 4)
        .map(|(_, v)| *v)
        .sum();
    Some(busy * (1_000_000_000 / USER_HZ))
}

fn parse_meminfo(text: &str) -> Option<(u64, u64, u64)> {
    let kib = |key: &str| -> Option<u64> {
        let line = text.lines().find(|l| l.starts_with(key))?;
        Some(line.split_whitespace().nth(1)?.parse::<u64>().ok()? * 1024)
    };
    Some((
        kib("MemTotal:")?,
        kib("MemAvailable:")?,
        kib("Cached:").unwrap_or(0) + kib("Buffers:").unwrap_or(0),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_proc_files() {
        let stat = "cpu  100 5 50 1000 20 1 2 3 0 0\ncpu0 1 1 1 1 1 1 1 1 0 0\n";
        // 100+5+50+1+2+3 ticks = 161 ticks = 1.61 s.
        assert_eq!(parse_stat_busy_ns(stat), Some(1_610_000_000));
        let mem = "MemTotal:       1000 kB\nMemFree:  10 kB\nMemAvailable:    600 kB\nBuffers: 10 kB\nCached:  90 kB\n";
        assert_eq!(parse_meminfo(mem), Some((1_024_000, 614_400, 102_400)));
    }

    #[test]
    fn reads_this_host() {
        let usage = read(Path::new("/proc"));
        assert!(usage.is_some_and(|u| u.memory_total_bytes > 0 && u.processes > 0));
    }
}
