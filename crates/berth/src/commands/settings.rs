//! `berth settings` (show the host-wide settings) and `berth settings set …` (change some,
//! keep the rest).

use anyhow::Context as _;
use berth_types::settings::{Retention, Settings};
use berth_types::units::{format_bytes, parse_bytes};
use clap::{Args, Subcommand};

use super::Context;
use crate::output::{self, Format};

#[derive(Subcommand)]
pub enum SettingsCommand {
    /// Change the given settings; the others stay. `none` removes a default limit.
    Set(SetArgs),
}

#[derive(Args, Default)]
pub struct SetArgs {
    /// Image for `POST /instances` without one, e.g. debian/13.
    #[arg(long)]
    pub default_image: Option<String>,
    /// CPU cores for new instances (1.5), or `none`.
    #[arg(long)]
    pub default_cpu: Option<String>,
    /// Memory for new instances (1GiB), or `none`.
    #[arg(long)]
    pub default_memory: Option<String>,
    /// Disk for new instances (10GiB; needs btrfs storage), or `none`.
    #[arg(long)]
    pub default_disk: Option<String>,
    /// Most processes for new instances (512), or `none`.
    #[arg(long)]
    pub default_processes: Option<String>,
    /// Whether new instances start with the host (true/false).
    #[arg(long)]
    pub default_autostart: Option<bool>,
    /// Seconds between metrics samples (1–3600).
    #[arg(long)]
    pub metrics_interval: Option<u32>,
    /// Which metrics rollups are kept: proxmox.
    #[arg(long)]
    pub metrics_retention: Option<String>,
}

pub async fn run(ctx: &Context, command: Option<SettingsCommand>) -> anyhow::Result<()> {
    let settings = match command {
        None => ctx.client.get("/settings").await?,
        Some(SettingsCommand::Set(args)) => {
            let mut settings: Settings = ctx.client.get("/settings").await?;
            apply(&mut settings, &args)?;
            ctx.client.put("/settings", &settings).await?
        }
    };
    show(ctx, &settings)
}

/// A value, or `None` for `none`.
fn optional<T>(
    raw: &str,
    parse: impl FnOnce(&str) -> anyhow::Result<T>,
) -> anyhow::Result<Option<T>> {
    if raw.eq_ignore_ascii_case("none") {
        Ok(None)
    } else {
        parse(raw).map(Some)
    }
}

fn apply(settings: &mut Settings, args: &SetArgs) -> anyhow::Result<()> {
    let defaults = &mut settings.defaults;
    if let Some(image) = &args.default_image {
        defaults.image = image.clone();
    }
    if let Some(raw) = &args.default_cpu {
        defaults.cpu = optional(raw, |r| {
            r.parse()
                .with_context(|| format!("--default-cpu {r:?}: give cores (1.5) or none"))
        })?;
    }
    let size = |flag: &'static str| move |r: &str| Ok(parse_bytes(r, flag)?);
    if let Some(raw) = &args.default_memory {
        defaults.memory = optional(raw, size("--default-memory"))?;
    }
    if let Some(raw) = &args.default_disk {
        defaults.disk = optional(raw, size("--default-disk"))?;
    }
    if let Some(raw) = &args.default_processes {
        defaults.processes = optional(raw, |r| {
            r.parse()
                .with_context(|| format!("--default-processes {r:?}: give a number or none"))
        })?;
    }
    if let Some(autostart) = args.default_autostart {
        defaults.autostart = autostart;
    }
    if let Some(interval) = args.metrics_interval {
        settings.metrics.interval_seconds = interval;
    }
    if let Some(raw) = &args.metrics_retention {
        settings.metrics.retention = serde_json::from_value(serde_json::Value::String(raw.clone()))
            .with_context(|| format!("--metrics-retention {raw:?}: give proxmox"))?;
    }
    Ok(())
}

fn show(ctx: &Context, settings: &Settings) -> anyhow::Result<()> {
    if ctx.format == Format::Json {
        return output::json(settings);
    }
    let d = &settings.defaults;
    let limit = |v: Option<String>| v.unwrap_or_else(|| "no limit".into());
    println!("Defaults for new instances:");
    println!("  Image:      {}", d.image);
    println!(
        "  CPU:        {}",
        limit(d.cpu.map(|c| format!("{c} cores")))
    );
    println!("  Memory:     {}", limit(d.memory.map(format_bytes)));
    println!("  Disk:       {}", limit(d.disk.map(format_bytes)));
    println!(
        "  Processes:  {}",
        limit(d.processes.map(|p| p.to_string()))
    );
    println!("  Autostart:  {}", d.autostart);
    println!("Metrics:");
    println!("  Interval:   {} s", settings.metrics.interval_seconds);
    let retention = match settings.metrics.retention {
        Retention::Proxmox => "proxmox (hour, day, week, month, year)",
    };
    println!("  Retention:  {retention}");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_changes_only_what_is_given_and_none_clears() -> anyhow::Result<()> {
        let mut settings = Settings::default();
        settings.defaults.cpu = Some(2.0);
        let args = SetArgs {
            default_memory: Some("1GiB".into()),
            default_image: Some("debian/13".into()),
            default_cpu: Some("none".into()),
            metrics_interval: Some(30),
            ..SetArgs::default()
        };
        apply(&mut settings, &args)?;
        assert_eq!(settings.defaults.memory, Some(1 << 30));
        assert_eq!(settings.defaults.image, "debian/13");
        assert_eq!(settings.defaults.cpu, None);
        assert_eq!(settings.defaults.processes, None);
        assert_eq!(settings.metrics.interval_seconds, 30);
        let bad = SetArgs {
            default_memory: Some("lots".into()),
            ..SetArgs::default()
        };
        assert!(apply(&mut settings, &bad).is_err());
        Ok(())
    }
}
