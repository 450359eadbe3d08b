//! `berth system`: the host, its storage pools, kernel capabilities, backends and the capacity
//! left for guests.

use berth_types::api::{CapabilityInfo, SystemInfo};
use berth_types::units::format_bytes;

use super::Context;
use crate::output::{self, Format};

pub async fn show(ctx: &Context) -> anyhow::Result<()> {
    let info: SystemInfo = ctx.client.get("/system").await?;
    if ctx.format == Format::Json {
        return output::json(&info);
    }
    let bytes = |v: Option<u64>| v.map(format_bytes).unwrap_or_else(|| "-".into());
    println!("Berth:      {}", info.version);
    println!(
        "Host:       {} ({}, kernel {})",
        info.hostname, info.arch, info.kernel
    );
    println!("Uptime:     {}", uptime(info.uptime_seconds));
    println!("CPU:        {} × {}", info.cpus, info.cpu_model);
    println!(
        "Memory:     {} ({} available)",
        format_bytes(info.memory),
        format_bytes(info.memory_available)
    );
    if let Some(host) = &info.host {
        let load = &host.load_average;
        println!(
            "Load:       {:.2} {:.2} {:.2} (1, 5, 15 min; {} CPUs)",
            load.one, load.five, load.fifteen, host.cpus
        );
    }
    println!("cgroups:    {}", info.cgroup);
    println!("Instances:  {}", info.instances);
    println!("Storage:");
    for pool in &info.storage_pools {
        // An admin's host view has the file system's size too.
        let size = info
            .host
            .as_ref()
            .and_then(|host| host.pools.iter().find(|p| p.name == pool.name))
            .and_then(|p| p.size)
            .map(|size| format!(" of {}", format_bytes(size)))
            .unwrap_or_default();
        println!(
            "  {}: {} at {} ({} used{size}, {} free)",
            pool.name,
            pool.driver,
            pool.path,
            bytes(pool.used),
            bytes(pool.free)
        );
    }
    println!("Kernel:");
    let caps = &info.capabilities;
    for (name, cap) in [
        ("btrfs", &caps.btrfs),
        ("overlay", &caps.overlay),
        ("sit", &caps.sit),
        ("wireguard", &caps.wireguard),
        ("tun", &caps.tun),
        ("nftables", &caps.nftables),
    ] {
        println!("  {name:<10} {}", capability(cap));
    }
    println!("Backends:");
    for backend in &info.backends {
        let marker = if backend.name == info.default_backend {
            " (default)"
        } else {
            ""
        };
        match &backend.reason {
            None => println!("  {}{marker}: usable", backend.name),
            Some(reason) => println!("  {}{marker}: not usable: {reason}", backend.name),
        }
    }
    let cap = &info.capacity;
    println!(
        "Capacity:   {} more guest(s) ({} running; first limit: {})",
        cap.guests_left, cap.guests_running, cap.limited_by
    );
    for l in &cap.limits {
        println!(
            "  {:<18} {} of {} used, {} per guest: room for {}",
            l.name, l.used, l.limit, l.per_guest, l.guests_left
        );
    }
    for warning in &cap.warnings {
        println!("  warning: {warning}");
    }
    Ok(())
}

fn capability(cap: &CapabilityInfo) -> String {
    match (&cap.available, &cap.reason) {
        (true, _) => "yes".into(),
        (false, Some(reason)) => format!("no: {reason}"),
        (false, None) => "no".into(),
    }
}

/// `3d 4h 5m`.
pub(crate) fn uptime(seconds: u64) -> String {
    let (days, hours, minutes) = (seconds / 86_400, seconds / 3600 % 24, seconds / 60 % 60);
    match days {
        0 => format!("{hours}h {minutes}m"),
        _ => format!("{days}d {hours}h {minutes}m"),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn uptime_reads_like_a_duration() {
        assert_eq!(super::uptime(59), "0h 0m");
        assert_eq!(super::uptime(3 * 86_400 + 4 * 3600 + 5 * 60), "3d 4h 5m");
    }
}
