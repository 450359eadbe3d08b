//! One collection tick: reads every running guest's cgroups and veth counters and the host's
//! totals, and turns counters into rates against the previous tick. Pure file reads (tens of
//! small files per guest); the caller runs it on a blocking thread.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};

use berth_cgroups::Layout;
use berth_types::metrics::MetricsPoint;

use crate::cgroup::{self, CgroupUsage};
use crate::host::{self, HostUsage};
use crate::net::{self, NetCounters};

/// A running guest to sample.
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    pub name: String,
    pub owner: String,
    /// The host end of its veth pair, if it has a network.
    pub veth: Option<String>,
    /// Its CPU limit in cores, for alert percentages.
    pub cpu_limit: Option<f64>,
    /// Disk used and limit, when the storage driver measured it.
    pub disk: Option<Disk>,
    /// Its init's host PID, for uptime.
    pub init_pid: Option<i32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Disk {
    pub used: u64,
    pub limit: Option<u64>,
}

/// One guest's reading: the point (rates computed) and the raw counters for OpenMetrics.
#[derive(Debug, Clone, PartialEq)]
pub struct InstanceSample {
    pub name: String,
    pub owner: String,
    pub point: MetricsPoint,
    pub cpu_limit: Option<f64>,
    pub cpu_seconds_total: f64,
    /// Counters from the guest's point of view (its receive is the host end's transmit).
    pub net: Option<NetCounters>,
    pub uptime_seconds: Option<f64>,
}

/// The host's reading.
#[derive(Debug, Clone, PartialEq)]
pub struct HostSample {
    pub point: MetricsPoint,
    pub cpu_seconds_total: f64,
}

/// Everything one tick saw.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Tick {
    /// Unix seconds.
    pub time: i64,
    pub instances: Vec<InstanceSample>,
    pub host: Option<HostSample>,
    /// Guests whose cgroups could not be read (stopped between listing and reading).
    pub skipped: usize,
}

#[derive(Debug, Clone, Copy)]
struct Previous {
    at_ms: i64,
    cpu_ns: u64,
    net: Option<NetCounters>,
}

/// Where the collector reads from; the real paths by default, temp trees in tests.
#[derive(Debug, Clone)]
pub struct Sources {
    pub cgroups: Layout,
    pub sys_class_net: PathBuf,
    pub proc: PathBuf,
}

/// Keeps the previous tick's counters to compute rates.
pub struct Collector {
    sources: Sources,
    previous: HashMap<String, Previous>,
    previous_host: Option<Previous>,
}

impl Collector {
    pub fn new(sources: Sources) -> Self {
        Self {
            sources,
            previous: HashMap::new(),
            previous_host: None,
        }
    }

    /// Samples `targets` and the host at `now_ms` (unix milliseconds). `pool` is the storage
    /// pool's (used, free) bytes when known.
    pub fn collect(&mut self, now_ms: i64, targets: &[Target], pool: Option<(u64, u64)>) -> Tick {
        let mut tick = Tick {
            time: now_ms.div_euclid(1000),
            ..Tick::default()
        };
        let mut seen = HashMap::with_capacity(targets.len());
        let host_uptime = read_uptime(&self.sources.proc);
        for target in targets {
            let Ok(usage) = cgroup::read_usage(&self.sources.cgroups, &target.name) else {
                tick.skipped += 1;
                continue;
            };
            let net = target
                .veth
                .as_deref()
                .and_then(|v| net::read(&self.sources.sys_class_net, v))
                .map(NetCounters::swapped);
            let now = Previous {
                at_ms: now_ms,
                cpu_ns: usage.cpu_ns,
                net,
            };
            let prev = self.previous.get(&target.name).copied();
            seen.insert(target.name.clone(), now);
            tick.instances.push(InstanceSample {
                name: target.name.clone(),
                owner: target.owner.clone(),
                point: instance_point(tick.time, &usage, target, prev.as_ref(), &now),
                cpu_limit: target.cpu_limit,
                cpu_seconds_total: usage.cpu_ns as f64 / 1e9,
                net,
                uptime_seconds: target
                    .init_pid
                    .and_then(|pid| process_uptime(&self.sources.proc, pid, host_uptime?)),
            });
        }
        self.previous = seen;
        tick.host = host::read(&self.sources.proc).map(|usage| {
            let now = Previous {
                at_ms: now_ms,
                cpu_ns: usage.cpu_busy_ns,
                net: None,
            };
            let point = host_point(
                tick.time,
                &usage,
                self.previous_host.as_ref(),
                &now,
                &tick,
                pool,
            );
            self.previous_host = Some(now);
            HostSample {
                point,
                cpu_seconds_total: usage.cpu_busy_ns as f64 / 1e9,
            }
        });
        tick
    }
}

/// Percent of one core between two readings; `None` on the first or after a counter reset.
fn cpu_percent(prev: Option<&Previous>, now: &Previous) -> Option<f64> {
    let prev = prev?;
    let dt_ns = (now.at_ms - prev.at_ms) as f64 * 1e6;
    let used = now.cpu_ns.checked_sub(prev.cpu_ns)? as f64;
    (dt_ns > 0.0).then(|| (used / dt_ns * 100.0 * 1000.0).round() / 1000.0)
}

fn rate(prev: u64, now: u64, dt_s: f64) -> Option<f64> {
    let delta = now.checked_sub(prev)? as f64;
    (dt_s > 0.0).then(|| (delta / dt_s * 10.0).round() / 10.0)
}

fn instance_point(
    time: i64,
    usage: &CgroupUsage,
    target: &Target,
    prev: Option<&Previous>,
    now: &Previous,
) -> MetricsPoint {
    let dt_s = prev.map_or(0.0, |p| (now.at_ms - p.at_ms) as f64 / 1000.0);
    let (prev_net, now_net) = (prev.and_then(|p| p.net), now.net);
    let (rx, tx) = match (prev_net, now_net) {
        (Some(p), Some(n)) => (
            rate(p.rx_bytes, n.rx_bytes, dt_s),
            rate(p.tx_bytes, n.tx_bytes, dt_s),
        ),
        _ => (None, None),
    };
    MetricsPoint {
        time,
        cpu_percent: cpu_percent(prev, now),
        memory_bytes: Some(usage.memory_bytes as f64),
        memory_limit_bytes: usage.memory_limit_bytes.map(|l| l as f64),
        memory_cache_bytes: Some(usage.memory_cache_bytes as f64),
        disk_bytes: target.disk.map(|d| d.used as f64),
        disk_limit_bytes: target.disk.and_then(|d| d.limit).map(|l| l as f64),
        net_rx_bytes_per_s: rx,
        net_tx_bytes_per_s: tx,
        processes: Some(usage.processes as f64),
    }
}

/// The host: its CPU and memory, the pool, and the guests' traffic summed.
fn host_point(
    time: i64,
    usage: &HostUsage,
    prev: Option<&Previous>,
    now: &Previous,
    tick: &Tick,
    pool: Option<(u64, u64)>,
) -> MetricsPoint {
    let sum = |f: fn(&MetricsPoint) -> Option<f64>| -> Option<f64> {
        let values: Vec<f64> = tick.instances.iter().filter_map(|s| f(&s.point)).collect();
        (!values.is_empty()).then(|| values.iter().sum())
    };
    MetricsPoint {
        time,
        cpu_percent: cpu_percent(prev, now),
        memory_bytes: Some(usage.memory_used_bytes as f64),
        memory_limit_bytes: Some(usage.memory_total_bytes as f64),
        memory_cache_bytes: Some(usage.memory_cache_bytes as f64),
        disk_bytes: pool.map(|(used, _)| used as f64),
        disk_limit_bytes: pool.map(|(used, free)| (used + free) as f64),
        net_rx_bytes_per_s: sum(|p| p.net_rx_bytes_per_s),
        net_tx_bytes_per_s: sum(|p| p.net_tx_bytes_per_s),
        processes: Some(usage.processes as f64),
    }
}

fn read_uptime(proc: &Path) -> Option<f64> {
    let text = fs::read_to_string(proc.join("uptime")).ok()?;
    text.split_whitespace().next()?.parse().ok()
}

/// Seconds since `pid` started: host uptime minus its start time (field 22 of its stat, in
/// USER_HZ = 100 ticks since boot).
fn process_uptime(proc: &Path, pid: i32, host_uptime: f64) -> Option<f64> {
    let stat = fs::read_to_string(proc.join(pid.to_string()).join("stat")).ok()?;
    // The command name may hold spaces and parentheses: count fields after the last `)`.
    let after = stat.rsplit_once(')')?.1;
    let start_ticks: f64 = after.split_whitespace().nth(19)?.parse().ok()?;
    Some((host_uptime - start_ticks / 100.0).max(0.0).round())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cgroup::synthetic;

    #[test]
    fn rates_from_two_ticks_on_both_layouts() -> Result<(), Box<dyn std::error::Error>> {
        for v2 in [false, true] {
            let dir = tempfile::tempdir()?;
            let layout = synthetic::layout(dir.path(), v2);
            let net_dir = dir.path().join("net");
            let mut usage = CgroupUsage {
                cpu_ns: 1_000_000_000,
                memory_bytes: 100 << 20,
                memory_cache_bytes: 10 << 20,
                memory_limit_bytes: Some(512 << 20),
                processes: 9,
            };
            synthetic::write(&layout, "web1", &usage)?;
            // The host end: its transmit is the guest's receive.
            let mut counters = NetCounters::default();
            net::write_synthetic(&net_dir, "vbx", &counters)?;
            let mut collector = Collector::new(Sources {
                cgroups: layout.clone(),
                sys_class_net: net_dir.clone(),
                proc: "/proc".into(),
            });
            let target = Target {
                name: "web1".into(),
                owner: "alice".into(),
                veth: Some("vbx".into()),
                cpu_limit: Some(1.0),
                disk: Some(Disk {
                    used: 5,
                    limit: Some(10),
                }),
                init_pid: Some(std::process::id() as i32),
            };
            let targets = [
                target.clone(),
                Target {
                    name: "gone".into(),
                    ..target
                },
            ];
            let first = collector.collect(1_000_000, &targets, Some((1, 3)));
            assert_eq!((first.instances.len(), first.skipped), (1, 1));
            assert_eq!(first.instances[0].point.cpu_percent, None);
            // 10 s later: 5 s of CPU (50 %), 10 000 bytes received by the guest.
            usage.cpu_ns += 5_000_000_000;
            counters.tx_bytes += 10_000;
            synthetic::write(&layout, "web1", &usage)?;
            net::write_synthetic(&net_dir, "vbx", &counters)?;
            let second = collector.collect(1_010_000, &targets, Some((1, 3)));
            let p = &second.instances[0].point;
            assert_eq!(p.time, 1010);
            assert_eq!(p.cpu_percent, Some(50.0));
            assert_eq!(p.net_rx_bytes_per_s, Some(1000.0));
            assert_eq!(p.net_tx_bytes_per_s, Some(0.0));
            assert_eq!(p.memory_cache_bytes, Some((10u64 << 20) as f64));
            assert_eq!((p.disk_bytes, p.disk_limit_bytes), (Some(5.0), Some(10.0)));
            assert!(second.instances[0].uptime_seconds.is_some());
            let host = second.host.ok_or("no host sample")?;
            assert_eq!(host.point.disk_limit_bytes, Some(4.0));
            assert_eq!(host.point.net_rx_bytes_per_s, Some(1000.0));
            assert!(host.point.cpu_percent.is_some());
        }
        Ok(())
    }
}
