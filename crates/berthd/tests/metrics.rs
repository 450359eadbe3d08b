//! Metrics on a real instance (builtin runtime, real cgroups on this host's layout): burning CPU
//! inside shows in the history, in `berth metrics` and in `/metrics`, which Prometheus' parser
//! reads. Run as root.

#[path = "common/pytools.rs"]
mod pytools;
#[path = "common/real.rs"]
mod real;

use std::process::Command;
use std::time::{Duration, Instant};

use real::{Error, RealDaemon};

fn scrape(d: &RealDaemon) -> Result<String, Error> {
    let out = Command::new("curl")
        .args(["-sf", "--unix-socket"])
        .arg(d.socket())
        .arg("http://localhost/metrics")
        .output()?;
    if !out.status.success() {
        return Err(format!(
            "curl /metrics failed: {}",
            String::from_utf8_lossy(&out.stderr)
        )
        .into());
    }
    Ok(String::from_utf8(out.stdout)?)
}

fn sample(samples: &[String], prefix: &str) -> Option<f64> {
    samples
        .iter()
        .find(|s| s.starts_with(prefix))
        .and_then(|s| s.rsplit(' ').next()?.parse().ok())
}

#[test]
fn burning_cpu_shows_in_history_cli_and_openmetrics() -> Result<(), Error> {
    let d = RealDaemon::start(&[("BERTH_METRICS__INTERVAL", "2s")])?;
    d.ensure_image()?;
    let name = d.name("hot");
    d.ok(&[
        "launch",
        "debian/12",
        &name,
        "--cpu",
        "1",
        "--memory",
        "256MiB",
    ])?;
    // Let the guest settle after boot, then burn one core for 5 s.
    std::thread::sleep(Duration::from_secs(4));
    let (code, _) = d.exec(
        &name,
        &["sh", "-c", "timeout 5 sh -c 'while :; do :; done'; true"],
    )?;
    assert_eq!(code, 0);
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut best = 0.0_f64;
    while Instant::now() < deadline && best < 60.0 {
        let history = d.json(&["metrics", &name, "--timeframe", "hour"])?;
        best = history["points"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|p| p["cpu_percent"].as_f64())
            .fold(0.0, f64::max);
        std::thread::sleep(Duration::from_millis(500));
    }
    assert!(
        best >= 60.0,
        "cpu_percent never rose above 60 % of a core (best {best}); log:\n{}",
        d.log()
    );
    // The 1-minute rollup has it too (from the open bucket or a closed one).
    let day = d.json(&["metrics", &name, "--timeframe", "day", "--cf", "max"])?;
    let day_max = day["points"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| p["cpu_percent"].as_f64())
        .fold(0.0, f64::max);
    assert!(day_max >= 60.0, "day max {day_max}");
    let hour = d.json(&["metrics", &name])?;
    let last = hour["points"]
        .as_array()
        .and_then(|p| p.iter().rev().find(|p| !p["memory_bytes"].is_null()))
        .ok_or("no memory point")?;
    assert_eq!(
        last["memory_limit_bytes"].as_f64(),
        Some(268_435_456.0),
        "{last}"
    );
    assert!(
        last["processes"].as_f64().is_some_and(|p| p >= 1.0),
        "{last}"
    );
    assert!(
        last["memory_bytes"].as_f64().is_some_and(|m| m > 1e6),
        "{last}"
    );
    // Disk usage (btrfs qgroup, or a walk of the tree) is measured at the first tick.
    assert!(
        last["disk_bytes"].as_f64().is_some_and(|b| b > 1e6),
        "{last}"
    );
    assert!(last["net_rx_bytes_per_s"].as_f64().is_some(), "{last}");
    let table = d.ok(&["metrics", &name])?;
    assert!(table.contains("cpu") && table.contains("memory"), "{table}");

    let samples = pytools::parse_openmetrics(&scrape(&d)?)?;
    let labels = format!("{{instance={name},owner=admin}}");
    let cpu_total = sample(
        &samples,
        &format!("berth_instance_cpu_seconds_total{labels}"),
    )
    .ok_or_else(|| format!("no cpu counter for {name}: {samples:?}"))?;
    // 5 s of burning on a shared 2-core host gets at least a few seconds of CPU.
    assert!(cpu_total >= 2.0, "cpu seconds {cpu_total}");
    assert!(
        sample(&samples, &format!("berth_instance_memory_bytes{labels}")).is_some_and(|m| m > 1e6)
    );
    assert!(
        sample(&samples, &format!("berth_instance_uptime_seconds{labels}"))
            .is_some_and(|u| u >= 1.0)
    );
    assert!(
        sample(
            &samples,
            &format!("berth_instance_network_transmit_bytes_total{labels}")
        )
        .is_some()
    );
    assert!(sample(&samples, "berth_host_memory_total_bytes{}").is_some_and(|m| m > 0.0));

    // Burn again and see the gauge itself rise in /metrics.
    let child = Command::new(real::berth_bin())
        .arg("--socket")
        .arg(d.socket())
        .args([
            "exec",
            &name,
            "--",
            "sh",
            "-c",
            "timeout 6 sh -c 'while :; do :; done'; true",
        ])
        .spawn()?;
    let mut child = child;
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut gauge = 0.0_f64;
    while Instant::now() < deadline && gauge < 60.0 {
        std::thread::sleep(Duration::from_millis(500));
        let samples = pytools::parse_openmetrics(&scrape(&d)?)?;
        gauge = sample(&samples, &format!("berth_instance_cpu_percent{labels}")).unwrap_or(0.0);
    }
    let _ = child.wait();
    assert!(
        gauge >= 60.0,
        "berth_instance_cpu_percent stayed at {gauge}"
    );

    // The alert CLI: the defaults, add, list, events, remove; bad input names the field.
    let rules = d.json(&["alert", "rule", "list"])?;
    assert_eq!(rules.as_array().map(Vec::len), Some(3), "{rules}");
    let id = d.ok(&[
        "alert",
        "rule",
        "add",
        "--metric",
        "processes",
        "--threshold",
        "5000",
        "--for",
        "30s",
        "--instance",
        &name,
        "--throttle",
        "2h",
    ])?;
    let id = id.trim();
    let rules = d.json(&["alert", "rule", "list"])?;
    let added = rules
        .as_array()
        .and_then(|r| r.iter().find(|r| r["id"] == id))
        .ok_or("added rule not listed")?;
    assert_eq!(
        (
            added["for_seconds"].as_u64(),
            added["throttle_seconds"].as_u64()
        ),
        (Some(30), Some(7200))
    );
    assert_eq!(added["scope"]["value"], name.as_str());
    let events = d.json(&["alert", "events"])?;
    assert!(events.is_array(), "{events}");
    let table = d.ok(&["alert", "rule", "list"])?;
    assert!(table.contains("processes > 5000"), "{table}");
    let bad = d.berth(&[
        "alert",
        "rule",
        "add",
        "--metric",
        "load",
        "--threshold",
        "1",
    ])?;
    assert!(!bad.status.success());
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("metric"),
        "{bad:?}"
    );
    let no_smtp = d.berth(&["alert", "test", "ops@example.test"])?;
    assert!(!no_smtp.status.success());
    assert!(
        String::from_utf8_lossy(&no_smtp.stderr).contains("alerts.smtp"),
        "{no_smtp:?}"
    );
    d.ok(&["alert", "rule", "remove", id])?;
    let rules = d.json(&["alert", "rule", "list"])?;
    assert_eq!(rules.as_array().map(Vec::len), Some(3), "{rules}");
    d.ok(&["delete", "--force", &name])?;
    Ok(())
}
