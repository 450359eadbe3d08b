//! Benchmarks for docs/PERFORMANCE.md (run: `cargo bench -p berth-metrics`):
//! 1. one collector tick over 1,000 synthetic guests (cgroup v1 and v2 trees and veth counters
//!    on tmpfs, like cgroupfs and sysfs) plus writing the tick to SQLite in one transaction;
//! 2. bytes per sample in the database after a simulated day of 10 s samples;
//! 3. answering a year's history (1,460 six-hour points) with a year of data for 200 series.

use std::path::Path;
use std::time::{Duration, Instant};

use berth_metrics::cgroup::{CgroupUsage, synthetic};
use berth_metrics::collector::{Collector, Sources, Target};
use berth_metrics::net::{NetCounters, write_synthetic};
use berth_metrics::series::{SeriesStore, instance_series};
use berth_types::metrics::{Cf, MetricsPoint, Timeframe};

type Error = Box<dyn std::error::Error>;

fn scratch() -> Result<tempfile::TempDir, Error> {
    let shm = Path::new("/dev/shm");
    Ok(if shm.is_dir() {
        tempfile::tempdir_in(shm)?
    } else {
        tempfile::tempdir()?
    })
}

/// CPU time this process has used (user + system).
fn cpu_time() -> Duration {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage writes a struct rusage into the buffer we own; RUSAGE_SELF is valid.
    let rc = unsafe { libc::getrusage(libc::RUSAGE_SELF, usage.as_mut_ptr()) };
    if rc != 0 {
        return Duration::ZERO;
    }
    // SAFETY: getrusage succeeded, so the struct is initialised.
    let u = unsafe { usage.assume_init() };
    let tv = |t: libc::timeval| {
        Duration::from_secs(t.tv_sec as u64) + Duration::from_micros(t.tv_usec as u64)
    };
    tv(u.ru_utime) + tv(u.ru_stime)
}

fn collector_tick(v2: bool, guests: usize) -> Result<(), Error> {
    let dir = scratch()?;
    let layout = synthetic::layout(dir.path(), v2);
    let net = dir.path().join("net");
    let mut targets = Vec::with_capacity(guests);
    for i in 0..guests {
        let name = format!("guest-{i}");
        let usage = CgroupUsage {
            cpu_ns: 1_000_000 * i as u64,
            memory_bytes: 100 << 20,
            memory_cache_bytes: 10 << 20,
            memory_limit_bytes: Some(512 << 20),
            processes: 20,
        };
        synthetic::write(&layout, &name, &usage)?;
        let veth = format!("vb{i:012x}");
        write_synthetic(&net, &veth, &NetCounters::default())?;
        targets.push(Target {
            name,
            owner: "alice".into(),
            veth: Some(veth),
            cpu_limit: Some(1.0),
            disk: None,
            init_pid: Some(std::process::id() as i32),
        });
    }
    let conn = berth_metrics::db::open(&dir.path().join("berth.db"))?;
    let store = SeriesStore::new(conn, 10);
    let mut collector = Collector::new(Sources {
        cgroups: layout,
        sys_class_net: net,
        proc: "/proc".into(),
    });
    let ticks = 30;
    let t0 = 1_764_615_600_000_i64;
    let (mut collect, mut record) = (Duration::ZERO, Duration::ZERO);
    let (mut collect_cpu, mut record_cpu) = (Duration::ZERO, Duration::ZERO);
    for i in 0..ticks {
        let (w, c) = (Instant::now(), cpu_time());
        let tick = collector.collect(t0 + i * 10_000, &targets, Some((1, 2)));
        collect += w.elapsed();
        collect_cpu += cpu_time() - c;
        assert_eq!(tick.instances.len(), guests);
        let samples: Vec<(String, MetricsPoint)> = tick
            .instances
            .iter()
            .map(|s| (instance_series(&s.name), s.point.clone()))
            .collect();
        let (w, c) = (Instant::now(), cpu_time());
        store.record(tick.time, &samples)?;
        record += w.elapsed();
        record_cpu += cpu_time() - c;
    }
    let per = |d: Duration| d / ticks as u32;
    let total_cpu = per(collect_cpu + record_cpu);
    println!(
        "collector {} x{guests}: read {:?} (cpu {:?}), record {:?} (cpu {:?}) per tick; {:.2} % of one core at 10 s",
        if v2 { "v2" } else { "v1" },
        per(collect),
        per(collect_cpu),
        per(record),
        per(record_cpu),
        total_cpu.as_secs_f64() / 10.0 * 100.0
    );
    Ok(())
}

fn point(i: i64) -> MetricsPoint {
    MetricsPoint {
        cpu_percent: Some((i % 100) as f64 + 0.25),
        memory_bytes: Some((300 << 20) as f64 + (i % 4096) as f64 * 4096.0),
        memory_limit_bytes: Some((512u64 << 20) as f64),
        memory_cache_bytes: Some((50 << 20) as f64 + (i % 100) as f64 * 4096.0),
        disk_bytes: Some((2u64 << 30) as f64),
        disk_limit_bytes: Some((10u64 << 30) as f64),
        net_rx_bytes_per_s: Some((i % 1000) as f64 * 12.5),
        net_tx_bytes_per_s: Some((i % 700) as f64 * 3.1),
        processes: Some(20.0 + (i % 5) as f64),
        time: 0,
    }
}

fn bytes_per_sample() -> Result<(), Error> {
    let dir = scratch()?;
    let store = SeriesStore::new(berth_metrics::db::open(&dir.path().join("berth.db"))?, 10);
    let series = 100;
    let t0 = 1_764_615_600_i64;
    let ticks = 8640; // one day of 10 s samples
    let before = store.database_bytes()?;
    for t in 0..ticks {
        let samples: Vec<_> = (0..series)
            .map(|s| (instance_series(&format!("g{s}")), point(t + s)))
            .collect();
        store.record(t0 + t * 10, &samples)?;
    }
    let now = t0 + ticks * 10;
    let full = store.database_bytes()? - before;
    let rows = (series * ticks) as f64;
    println!(
        "storage: {:.1} bytes per 10 s sample written (raw + rollups, no retention) over a day of {series} series",
        full as f64 / rows
    );
    store.prune(now, |_| true)?;
    let pruned = store.database_bytes()? - before;
    // Steady state per series after pruning: 1 h raw + 1 day of minutes kept.
    println!(
        "storage: {:.0} KiB per series after retention (1 h raw, 1 day of 1 min, 30 min and 6 h so far)",
        pruned as f64 / series as f64 / 1024.0
    );
    Ok(())
}

fn year_query() -> Result<(), Error> {
    let dir = scratch()?;
    let store = SeriesStore::new(berth_metrics::db::open(&dir.path().join("berth.db"))?, 10);
    let series = 200;
    let t0 = 1_735_689_600_i64; // 2025-01-01, a multiple of 6 h
    let buckets = 1460; // a year of 6 h buckets; one sample each fills every tier's bucket
    for b in 0..buckets {
        let samples: Vec<_> = (0..series)
            .map(|s| (instance_series(&format!("g{s}")), point(b + s)))
            .collect();
        store.record(t0 + b * 21_600, &samples)?;
    }
    let now = t0 + buckets * 21_600;
    let name = instance_series("g7");
    let runs = 50;
    let mut times = Vec::with_capacity(runs);
    for i in 0..runs {
        let cf = if i % 2 == 0 { Cf::Avg } else { Cf::Max };
        let start = Instant::now();
        let h = store.history(&name, Timeframe::Year, cf, now)?;
        // What the API sends: the answer as JSON.
        let body = serde_json::to_vec(&h)?;
        times.push(start.elapsed());
        assert!(body.len() > 1000);
        assert!(h.points.iter().filter(|p| p.cpu_percent.is_some()).count() >= 1400);
    }
    times.sort();
    println!(
        "year history (1,460 points; {series} series x a year in the table) as JSON: p50 {:?}, p99 {:?}",
        times[runs / 2],
        times[runs * 99 / 100]
    );
    Ok(())
}

fn main() -> Result<(), Error> {
    if std::env::args().any(|a| a == "--list") {
        return Ok(());
    }
    collector_tick(false, 1000)?;
    collector_tick(true, 1000)?;
    bytes_per_sample()?;
    year_query()?;
    Ok(())
}
