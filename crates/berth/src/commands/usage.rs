//! What `berth info NAME` adds to the instance: its uptime (from `started_at`) and its usage
//! now — the newest point of `GET /instances/{name}/metrics` (CPU %, memory, disk, network,
//! processes) — as text lines, and as `uptime_seconds` and `usage` in `--format json`.

use berth_types::metrics::{MetricsHistory, MetricsPoint};
use berth_types::units::format_bytes;
use berth_types::{Instance, InstanceState};
use chrono::{DateTime, Utc};
use serde::Serialize;

use super::Context;

/// `berth info NAME --format json`: the instance as the API shows it, plus these.
#[derive(Serialize)]
pub struct InfoJson<'a> {
    #[serde(flatten)]
    pub instance: &'a Instance,
    /// Seconds since the guest booted; `null` unless running or suspended.
    pub uptime_seconds: Option<u64>,
    /// The newest metrics point with data; `null` when not running or none was sampled yet.
    pub usage: Option<MetricsPoint>,
    /// Why `usage` is `null` although the guest is up: the metrics could not be read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usage_error: Option<String>,
}

impl<'a> InfoJson<'a> {
    pub fn new(
        instance: &'a Instance,
        usage: Result<Option<MetricsPoint>, String>,
        now: DateTime<Utc>,
    ) -> Self {
        let (usage, usage_error) = match usage {
            Ok(point) => (point, None),
            Err(why) => (None, Some(why)),
        };
        Self {
            instance,
            uptime_seconds: uptime_seconds(instance, now),
            usage,
            usage_error,
        }
    }
}

/// Whether the guest is up (its boot time and usage mean something).
fn up(instance: &Instance) -> bool {
    matches!(
        instance.state,
        InstanceState::Running | InstanceState::Suspended
    )
}

/// Seconds since the guest booted, while it is up.
pub fn uptime_seconds(instance: &Instance, now: DateTime<Utc>) -> Option<u64> {
    let started = instance.started_at.filter(|_| up(instance))?;
    u64::try_from((now - started).num_seconds()).ok()
}

/// The newest point that has data.
pub fn latest(history: &MetricsHistory) -> Option<MetricsPoint> {
    history
        .points
        .iter()
        .rev()
        .find(|p| p.cpu_percent.is_some() || p.memory_bytes.is_some())
        .cloned()
}

/// The usage now, or why there is none (the metrics could not be read: `info` still answers).
pub async fn fetch(ctx: &Context, instance: &Instance) -> Result<Option<MetricsPoint>, String> {
    if !up(instance) {
        return Ok(None);
    }
    let path = format!("/instances/{}/metrics?timeframe=hour", instance.name);
    match ctx.client.get::<MetricsHistory>(&path).await {
        Ok(history) => Ok(latest(&history)),
        Err(e) => Err(format!("{e:#}")),
    }
}

fn used_of(used: Option<f64>, limit: Option<f64>) -> String {
    let bytes = |v: f64| format_bytes(v.max(0.0) as u64);
    match (used, limit) {
        (None, _) => "-".into(),
        (Some(u), Some(l)) if l > 0.0 => {
            format!("{} of {} ({:.0} %)", bytes(u), bytes(l), u / l * 100.0)
        }
        (Some(u), _) => format!("{} (no limit)", bytes(u)),
    }
}

/// The text lines `berth info` prints for uptime and usage.
pub fn lines(
    instance: &Instance,
    usage: &Result<Option<MetricsPoint>, String>,
    now: DateTime<Utc>,
) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(seconds) = uptime_seconds(instance, now) {
        out.push(format!(
            "Uptime:     {} (since {})",
            super::system::uptime(seconds),
            instance
                .started_at
                .map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
                .unwrap_or_default()
        ));
    }
    let point = match usage {
        Err(why) => {
            out.push(format!("Usage:      unavailable: {why}"));
            return out;
        }
        Ok(None) if up(instance) => {
            out.push("Usage:      not sampled yet".into());
            return out;
        }
        Ok(None) => return out,
        Ok(Some(point)) => point,
    };
    let at = DateTime::from_timestamp(point.time, 0)
        .map(|t| t.format("%H:%M:%S UTC").to_string())
        .unwrap_or_default();
    out.push(format!("Usage:      (sampled {at})"));
    let cpu = match (point.cpu_percent, instance.limits.cpu) {
        (None, _) => "-".into(),
        (Some(p), Some(cores)) => format!("{p:.1} % of one core ({cores} cores allowed)"),
        (Some(p), None) => format!("{p:.1} % of one core"),
    };
    out.push(format!("  CPU:      {cpu}"));
    out.push(format!(
        "  Memory:   {}",
        used_of(point.memory_bytes, point.memory_limit_bytes)
    ));
    out.push(format!(
        "  Disk:     {}",
        used_of(point.disk_bytes, point.disk_limit_bytes)
    ));
    let rate = |v: Option<f64>| {
        v.map(|v| format!("{}/s", format_bytes(v.max(0.0) as u64)))
            .unwrap_or_else(|| "-".into())
    };
    out.push(format!(
        "  Network:  {} in, {} out",
        rate(point.net_rx_bytes_per_s),
        rate(point.net_tx_bytes_per_s)
    ));
    if let Some(processes) = point.processes {
        out.push(format!("  Processes: {processes:.0}"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn instance(state: &str, started_at: Option<&str>) -> anyhow::Result<Instance> {
        Ok(serde_json::from_value(serde_json::json!({
            "name": "web1", "id": "5f0c0000-0000-4000-8000-000000000001", "owner": "admin",
            "backend": "builtin", "image": "debian/12", "state": state, "autostart": false,
            "created_at": "2026-11-22T08:00:00Z", "started_at": started_at,
            "limits": {"cpu": 1.5, "memory": 536870912, "disk": null, "processes": 512},
            "network": {"ipv4": "10.88.0.12", "ipv6": null, "mac": null, "forwards": []},
            "node": "local"
        }))?)
    }

    fn point() -> MetricsPoint {
        MetricsPoint {
            time: 1_764_676_800, // 2025-12-02T12:00:00Z
            cpu_percent: Some(12.5),
            memory_bytes: Some(134_217_728.0),
            memory_limit_bytes: Some(536_870_912.0),
            memory_cache_bytes: None,
            disk_bytes: Some(1_073_741_824.0),
            disk_limit_bytes: None,
            net_rx_bytes_per_s: Some(2048.0),
            net_tx_bytes_per_s: Some(10.0),
            processes: Some(17.0),
        }
    }

    #[test]
    fn a_running_guest_shows_uptime_and_usage() -> anyhow::Result<()> {
        let now = DateTime::parse_from_rfc3339("2026-12-02T12:00:00Z")?.with_timezone(&Utc);
        let web = instance("running", Some("2026-11-29T08:55:00Z"))?;
        assert_eq!(
            uptime_seconds(&web, now),
            Some(3 * 86_400 + 3 * 3600 + 5 * 60)
        );
        let text = lines(&web, &Ok(Some(point())), now).join("\n");
        for want in [
            "Uptime:     3d 3h 5m (since 2026-11-29 08:55:00 UTC)",
            "CPU:      12.5 % of one core (1.5 cores allowed)",
            "Memory:   128MiB of 512MiB (25 %)",
            "Disk:     1GiB (no limit)",
            "Network:  2KiB/s in, 10B/s out",
            "Processes: 17",
        ] {
            assert!(text.contains(want), "{want:?} not in\n{text}");
        }
        let json = serde_json::to_value(InfoJson::new(&web, Ok(Some(point())), now))?;
        assert_eq!(
            json["name"], "web1",
            "the instance's own fields stay: {json}"
        );
        assert_eq!(json["uptime_seconds"], 3 * 86_400 + 3 * 3600 + 5 * 60);
        assert_eq!(json["usage"]["cpu_percent"], 12.5);
        assert!(json.get("usage_error").is_none(), "{json}");
        Ok(())
    }

    #[test]
    fn a_stopped_guest_has_neither_and_a_failed_read_says_why() -> anyhow::Result<()> {
        let now = Utc::now();
        let stopped = instance("stopped", Some("2026-11-29T08:55:00Z"))?;
        assert_eq!(uptime_seconds(&stopped, now), None);
        assert!(lines(&stopped, &Ok(None), now).is_empty());
        let json = serde_json::to_value(InfoJson::new(&stopped, Ok(None), now))?;
        assert!(
            json["uptime_seconds"].is_null() && json["usage"].is_null(),
            "{json}"
        );
        let running = instance("running", Some("2026-11-29T08:55:00Z"))?;
        let failed = Err("503: proxmox unreachable".to_owned());
        let text = lines(&running, &failed, now).join("\n");
        assert!(
            text.contains("Usage:      unavailable: 503: proxmox unreachable"),
            "{text}"
        );
        let json = serde_json::to_value(InfoJson::new(&running, failed, now))?;
        assert_eq!(json["usage_error"], "503: proxmox unreachable");
        assert!(
            lines(&running, &Ok(None), now)
                .join("")
                .contains("not sampled yet")
        );
        Ok(())
    }

    #[test]
    fn the_newest_point_with_data_is_the_usage() {
        let empty = MetricsPoint {
            cpu_percent: None,
            memory_bytes: None,
            time: 1_764_676_810,
            ..point()
        };
        let history = MetricsHistory {
            timeframe: berth_types::metrics::Timeframe::Hour,
            cf: berth_types::metrics::Cf::Avg,
            resolution: 10,
            points: vec![point(), empty],
        };
        assert_eq!(latest(&history), Some(point()));
    }
}
