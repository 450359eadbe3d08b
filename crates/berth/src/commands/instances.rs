//! `berth launch | create | info | set` (`list` is `list.rs`'s).

use berth_types::api::{CreateInstanceRequest, OperationEnvelope, PatchInstanceRequest};
use berth_types::units::{format_bytes, parse_bytes};
use berth_types::{Instance, Limits};
use clap::Args;

use super::Context;
use crate::output::{self, Format};
use crate::progress;

#[derive(Args)]
pub struct LaunchArgs {
    /// Image: debian/12, debian/13, debian/11, ubuntu/24.04, ubuntu/22.04, ubuntu/20.04.
    pub image: String,
    /// Instance name (generated when left out).
    pub name: Option<String>,
    #[command(flatten)]
    pub limits: LimitArgs,
    /// Backend: builtin (default) or another this daemon offers.
    #[arg(long)]
    pub backend: Option<String>,
    /// Backend oci: the OCI runtime the guest runs under, crun or runc (default: the routing
    /// rule's, else the daemon's [oci] runtime). Kept with the instance.
    #[arg(long, value_name = "crun|runc")]
    pub runtime: Option<String>,
    /// Backend proxmox: the PVE node (default: the one with the most free memory).
    #[arg(long)]
    pub node: Option<String>,
    /// amd64 or arm64 (default: the host's); another runs through qemu-user.
    #[arg(long)]
    pub arch: Option<String>,
    /// Start when the host boots (without it, the host's default from `berth settings`).
    #[arg(long)]
    pub autostart: bool,
    /// Create without starting.
    #[arg(long)]
    pub no_start: bool,
    /// Root password (visible in your shell history: prefer --generate-password or keys).
    #[arg(long, conflicts_with = "generate_password")]
    pub password: Option<String>,
    /// Generate a root password and print it once.
    #[arg(long)]
    pub generate_password: bool,
    /// A file of OpenSSH public keys for root (repeatable), e.g. ~/.ssh/id_ed25519.pub.
    #[arg(long = "ssh-key")]
    pub ssh_keys: Vec<std::path::PathBuf>,
    /// A wg-quick config file for the guest's wg0 (written 0600, wg-quick@wg0 enabled).
    #[arg(long)]
    pub wireguard: Option<std::path::PathBuf>,
    /// Run the guest privileged: its root is the host's root (admins only; guests are
    /// unprivileged by default).
    #[arg(long)]
    pub privileged: bool,
    /// Allow containers inside the guest.
    #[arg(long)]
    pub nesting: bool,
}

#[derive(Args, Default)]
pub struct LimitArgs {
    /// CPU cores, fractions allowed (1.5).
    #[arg(long)]
    pub cpu: Option<f64>,
    /// Memory, e.g. 512MiB.
    #[arg(long)]
    pub memory: Option<String>,
    /// Root disk size, e.g. 10GiB.
    #[arg(long)]
    pub disk: Option<String>,
    /// Most processes.
    #[arg(long)]
    pub processes: Option<u64>,
}

impl LimitArgs {
    fn to_limits(&self) -> anyhow::Result<Limits> {
        Ok(Limits {
            cpu: self.cpu,
            memory: self
                .memory
                .as_deref()
                .map(|m| parse_bytes(m, "--memory"))
                .transpose()?,
            disk: self
                .disk
                .as_deref()
                .map(|d| parse_bytes(d, "--disk"))
                .transpose()?,
            processes: self.processes,
        })
    }
}

#[derive(Args)]
pub struct SetArgs {
    pub name: String,
    #[command(flatten)]
    pub limits: LimitArgs,
    /// Start when the host boots (true/false).
    #[arg(long)]
    pub autostart: Option<bool>,
    /// Take snapshots on a schedule: @hourly, @daily, @weekly, @monthly or cron "M H DoM Mon DoW"
    /// (UTC); "" turns it off.
    #[arg(long)]
    pub snapshot_schedule: Option<String>,
    /// Keep scheduled snapshots this long (e.g. 7d).
    #[arg(long, requires = "snapshot_schedule")]
    pub snapshot_expiry: Option<String>,
    /// Keep at most this many scheduled snapshots.
    #[arg(long, requires = "snapshot_schedule")]
    pub snapshot_max: Option<u32>,
    /// Back up on a schedule (@daily, cron; "" turns it off); [backups] keep bounds how many.
    #[arg(long)]
    pub backup_schedule: Option<String>,
    /// Make the guest privileged (true: its root is the host's root) or unprivileged (false);
    /// admins only, the instance stopped.
    #[arg(long, conflicts_with = "unprivileged")]
    pub privileged: Option<bool>,
    /// Same as --privileged false: give the guest its own user namespace and id range (its
    /// files are not changed).
    #[arg(long)]
    pub unprivileged: bool,
    /// Allow containers inside the guest (true/false); the instance stopped.
    #[arg(long)]
    pub nesting: Option<bool>,
}

pub async fn launch(ctx: &Context, args: LaunchArgs) -> anyhow::Result<()> {
    let ssh_keys = super::password::read_keys(&args.ssh_keys)?;
    let wireguard = match &args.wireguard {
        Some(file) => Some(
            std::fs::read_to_string(file)
                .map_err(|e| anyhow::anyhow!("--wireguard {}: {e}", file.display()))?,
        ),
        None => None,
    };
    let request = CreateInstanceRequest {
        name: args.name,
        image: Some(args.image),
        limits: args.limits.to_limits()?,
        backend: args.backend,
        runtime: args.runtime,
        autostart: args.autostart.then_some(true),
        start: Some(!args.no_start),
        password: args.password,
        generate_password: args.generate_password,
        ssh_keys,
        wireguard,
        owner: None,
        node: args.node,
        arch: args.arch,
        privileged: args.privileged.then_some(true),
        nesting: args.nesting.then_some(true),
    };
    let envelope: OperationEnvelope = ctx.client.post("/instances", &request).await?;
    let generated = envelope.password.clone();
    let name = envelope.operation.target.clone();
    if ctx.format == Format::Table && !ctx.quiet {
        eprintln!("Creating {name}");
    }
    progress::follow(&ctx.client, envelope.operation, ctx.quiet).await?;
    let instance: Instance = ctx.client.get(&format!("/instances/{name}")).await?;
    match ctx.format {
        Format::Json => match generated {
            Some(password) => {
                output::json(&serde_json::json!({"instance": instance, "password": password}))
            }
            None => output::json(&instance),
        },
        Format::Table => {
            println!("Instance {name} is {}", instance.state.as_str());
            if let Some(password) = generated {
                println!("Root password (shown once): {password}");
            }
            Ok(())
        }
    }
}

/// The state, marked when a remote backend was unreachable and this is its last known state.
pub(super) fn state_text(instance: &Instance) -> String {
    match instance.cache {
        Some(berth_types::CacheStatus::Stale) => {
            format!(
                "{} (stale: {} unreachable)",
                instance.state.as_str(),
                instance.backend
            )
        }
        _ => instance.state.as_str().to_owned(),
    }
}

/// `privileged` with its warning, or `unprivileged` with the guest's host ids.
fn security_text(instance: &Instance) -> String {
    match (instance.privileged, instance.idmap) {
        (true, _) => "privileged (WARNING: the guest's root is the host's root)".into(),
        (false, Some(map)) => format!(
            "unprivileged (host ids {}-{})",
            map.host_start,
            u64::from(map.host_start) + u64::from(map.size) - 1
        ),
        (false, None) => "unprivileged (id range allocated at start)".into(),
    }
}

pub async fn info(ctx: &Context, name: &str) -> anyhow::Result<()> {
    let instance: Instance = ctx.client.get(&format!("/instances/{name}")).await?;
    let usage = super::usage::fetch(ctx, &instance).await;
    let now = chrono::Utc::now();
    if ctx.format == Format::Json {
        return output::json(&super::usage::InfoJson::new(&instance, usage, now));
    }
    let limit = |v: Option<u64>| v.map(format_bytes).unwrap_or_else(|| "unlimited".into());
    println!("Name:       {}", instance.name);
    println!("State:      {}", state_text(&instance));
    println!("Image:      {}", instance.image);
    match instance.vmid {
        Some(vmid) => println!(
            "Backend:    {} on {} (VMID {vmid})",
            instance.backend, instance.node
        ),
        None => println!("Backend:    {} on {}", instance.backend, instance.node),
    }
    if let Some(runtime) = &instance.runtime {
        println!("Runtime:    {runtime}");
    }
    println!("Owner:      {}", instance.owner);
    println!(
        "Created:    {}",
        instance.created_at.format("%Y-%m-%d %H:%M:%S UTC")
    );
    println!("Autostart:  {}", instance.autostart);
    println!("Security:   {}", security_text(&instance));
    println!("Nesting:    {}", instance.nesting);
    if let Some(pid) = instance.pid {
        println!("PID:        {pid}");
    }
    for line in super::usage::lines(&instance, &usage, now) {
        println!("{line}");
    }
    println!(
        "CPU:        {}",
        instance
            .limits
            .cpu
            .map(|c| format!("{c} cores"))
            .unwrap_or_else(|| "unlimited".into())
    );
    println!("Memory:     {}", limit(instance.limits.memory));
    println!("Disk:       {}", limit(instance.limits.disk));
    println!(
        "Processes:  {}",
        instance
            .limits
            .processes
            .map(|p| p.to_string())
            .unwrap_or_else(|| "unlimited".into())
    );
    println!(
        "IPv4:       {}",
        instance.network.ipv4.as_deref().unwrap_or("-")
    );
    println!(
        "IPv6:       {}",
        instance.network.ipv6.as_deref().unwrap_or("-")
    );
    if let Some(mac) = &instance.network.mac {
        println!("MAC:        {mac}");
    }
    if let Some(schedule) = &instance.snapshots {
        println!(
            "Snapshots:  {} (expiry {}, max {})",
            schedule.schedule,
            schedule.expiry.as_deref().unwrap_or("none"),
            schedule
                .max
                .map_or_else(|| "none".into(), |m| m.to_string())
        );
    }
    if let Some(backups) = &instance.backups {
        println!("Backups:    {}", backups.schedule);
    }
    for forward in &instance.network.forwards {
        println!(
            "Forward:    {} → {}/{}",
            forward.listen, forward.port, forward.protocol
        );
    }
    Ok(())
}

pub async fn set(ctx: &Context, args: SetArgs) -> anyhow::Result<()> {
    let limits = args.limits.to_limits()?;
    let request = PatchInstanceRequest {
        limits: (limits != Limits::default()).then_some(limits),
        autostart: args.autostart,
        snapshots: args
            .snapshot_schedule
            .map(|schedule| berth_types::snapshot::SnapshotSchedule {
                schedule,
                expiry: args.snapshot_expiry,
                max: args.snapshot_max,
            }),
        backups: args
            .backup_schedule
            .map(|schedule| berth_types::api::BackupSchedule { schedule }),
        privileged: match args.unprivileged {
            true => Some(false),
            false => args.privileged,
        },
        nesting: args.nesting,
    };
    let instance: Instance = ctx
        .client
        .patch(&format!("/instances/{}", args.name), &request)
        .await?;
    match ctx.format {
        Format::Json => output::json(&instance),
        Format::Table => {
            println!("Instance {} updated", instance.name);
            Ok(())
        }
    }
}
