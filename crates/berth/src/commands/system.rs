//! `berth system`.

use berth_types::api::SystemInfo;
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
    println!("CPUs:       {}", info.cpus);
    println!("Memory:     {}", format_bytes(info.memory));
    println!("cgroups:    {}", info.cgroup);
    println!(
        "Storage:    {} at {} ({} used, {} free)",
        info.storage_driver,
        info.storage_path,
        bytes(info.storage_used),
        bytes(info.storage_free)
    );
    println!("Instances:  {}", info.instances);
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
    Ok(())
}
