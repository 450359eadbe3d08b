//! `berth metrics NAME [--timeframe day] [--cf max]` (or `--system` for the host): a compact
//! table of each metric's last, average and highest value, with a sparkline.

use berth_types::metrics::{MetricsHistory, MetricsPoint};
use clap::Args;

use super::Context;
use crate::output::{self, Format};

#[derive(Args)]
pub struct MetricsArgs {
    /// The instance (omit with --system).
    #[arg(required_unless_present = "system")]
    name: Option<String>,
    /// The host's totals instead of an instance's (admins).
    #[arg(long, conflicts_with = "name")]
    system: bool,
    /// hour (10 s points), day (1 min), week, month (30 min), year (6 h), decade (1 week).
    #[arg(long, default_value = "hour")]
    timeframe: String,
    /// avg or max of each point's bucket.
    #[arg(long, default_value = "avg")]
    cf: String,
}

/// Sparkline width in characters.
const WIDTH: usize = 48;

pub async fn show(ctx: &Context, args: MetricsArgs) -> anyhow::Result<()> {
    let base = match &args.name {
        Some(name) if !args.system => format!("/instances/{name}/metrics"),
        _ => "/system/metrics".to_owned(),
    };
    let path = format!("{base}?timeframe={}&cf={}", args.timeframe, args.cf);
    let history: MetricsHistory = ctx.client.get(&path).await?;
    if ctx.format == Format::Json {
        return output::json(&history);
    }
    let with_data = history
        .points
        .iter()
        .filter(|p| p.memory_bytes.is_some() || p.cpu_percent.is_some())
        .count();
    println!(
        "{} — {} ({}), {} s per point, {with_data} of {} points with data",
        args.name
            .as_deref()
            .filter(|_| !args.system)
            .unwrap_or("host"),
        history.timeframe.as_str(),
        history.cf.as_str(),
        history.resolution,
        history.points.len()
    );
    let rows: Vec<Vec<String>> = ROWS
        .iter()
        .map(|(label, get, unit)| row(label, &history.points, *get, *unit))
        .collect();
    output::table(&["METRIC", "LAST", "AVG", "MAX", "TREND"], &rows);
    Ok(())
}

#[derive(Clone, Copy)]
enum Unit {
    Percent,
    Bytes,
    Rate,
    Count,
}

type Getter = fn(&MetricsPoint) -> Option<f64>;

const ROWS: &[(&str, Getter, Unit)] = &[
    ("cpu", |p| p.cpu_percent, Unit::Percent),
    ("memory", |p| p.memory_bytes, Unit::Bytes),
    ("memory cache", |p| p.memory_cache_bytes, Unit::Bytes),
    ("memory limit", |p| p.memory_limit_bytes, Unit::Bytes),
    ("disk", |p| p.disk_bytes, Unit::Bytes),
    ("disk limit", |p| p.disk_limit_bytes, Unit::Bytes),
    ("net rx", |p| p.net_rx_bytes_per_s, Unit::Rate),
    ("net tx", |p| p.net_tx_bytes_per_s, Unit::Rate),
    ("processes", |p| p.processes, Unit::Count),
];

fn row(label: &str, points: &[MetricsPoint], get: Getter, unit: Unit) -> Vec<String> {
    let values: Vec<Option<f64>> = points.iter().map(get).collect();
    let present: Vec<f64> = values.iter().flatten().copied().collect();
    let show = |v: Option<f64>| v.map_or("-".to_owned(), |v| format_value(v, unit));
    let avg = (!present.is_empty()).then(|| present.iter().sum::<f64>() / present.len() as f64);
    let max = present.iter().copied().reduce(f64::max);
    vec![
        label.to_owned(),
        show(values.iter().rev().flatten().next().copied()),
        show(avg),
        show(max),
        sparkline(&values, WIDTH),
    ]
}

fn format_value(v: f64, unit: Unit) -> String {
    match unit {
        Unit::Percent => format!("{v:.1}%"),
        Unit::Bytes => bytes(v),
        Unit::Rate => format!("{}/s", bytes(v)),
        Unit::Count => format!("{v:.0}"),
    }
}

fn bytes(v: f64) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut v = v;
    let mut i = 0;
    while v >= 1024.0 && i + 1 < UNITS.len() {
        v /= 1024.0;
        i += 1;
    }
    if i == 0 {
        format!("{v:.0} {}", UNITS[i])
    } else {
        format!("{v:.1} {}", UNITS[i])
    }
}

/// `values` squeezed into `width` cells (each the highest value it covers), drawn with block
/// characters scaled to the highest value; a gap is a space.
pub fn sparkline(values: &[Option<f64>], width: usize) -> String {
    const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    if values.is_empty() {
        return String::new();
    }
    let cells = width.min(values.len()).max(1);
    let per = values.len().div_ceil(cells);
    let squeezed: Vec<Option<f64>> = values
        .chunks(per)
        .map(|c| c.iter().flatten().copied().reduce(f64::max))
        .collect();
    let top = squeezed.iter().flatten().copied().fold(0.0, f64::max);
    squeezed
        .iter()
        .map(|v| match v {
            None => ' ',
            Some(_) if top <= 0.0 => BARS[0],
            Some(v) => BARS[((v / top) * 7.0).round().clamp(0.0, 7.0) as usize],
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sparklines_and_sizes() {
        let line = sparkline(&[Some(0.0), None, Some(50.0), Some(100.0)], 10);
        assert_eq!(line, "▁ ▅█");
        assert_eq!(sparkline(&[Some(1.0); 100], 10).chars().count(), 10);
        assert_eq!(bytes(536_870_912.0), "512.0 MiB");
        assert_eq!(bytes(12.0), "12 B");
    }
}
