//! `berth network` (the bridge, its subnets, the IPv6 uplink and what the host can do) and
//! `berth network ipv6 MODE …` (set the uplink).

use anyhow::bail;
use berth_types::api::{Ipv6UplinkInfo, Ipv6UplinkRequest, NetworkInfo};
use clap::{Args, Subcommand};

use super::Context;
use crate::output::{self, Format};

#[derive(Subcommand)]
pub enum NetworkCommand {
    /// Set the IPv6 uplink: none | native --prefix P | 6in4 --server A --local B --client C
    /// --prefix P | wireguard --config FILE [--prefix P].
    Ipv6(Ipv6Args),
}

#[derive(Args)]
pub struct Ipv6Args {
    /// none, native, 6in4 or wireguard.
    pub mode: String,
    /// The routed prefix instances get addresses from, e.g. 2001:db8:42::/48.
    #[arg(long)]
    pub prefix: Option<String>,
    /// 6in4: the broker's IPv4.
    #[arg(long)]
    pub server: Option<String>,
    /// 6in4: this host's IPv4.
    #[arg(long)]
    pub local: Option<String>,
    /// 6in4: this end's tunnel address, e.g. 2001:db8:1::2/64.
    #[arg(long)]
    pub client: Option<String>,
    /// wireguard: a wg-quick config file.
    #[arg(long)]
    pub config: Option<std::path::PathBuf>,
}

pub async fn run(ctx: &Context, command: Option<NetworkCommand>) -> anyhow::Result<()> {
    match command {
        None => show(ctx).await,
        Some(NetworkCommand::Ipv6(args)) => {
            let need = |v: Option<String>, flag: &str| match v {
                Some(v) => Ok(v),
                None => bail!("mode {} needs --{flag}", args.mode),
            };
            let request = match args.mode.as_str() {
                "none" => Ipv6UplinkRequest::None,
                "native" => Ipv6UplinkRequest::Native {
                    prefix: need(args.prefix.clone(), "prefix")?,
                },
                "6in4" => Ipv6UplinkRequest::SixInFour {
                    server_ipv4: need(args.server.clone(), "server")?,
                    local_ipv4: need(args.local.clone(), "local")?,
                    client_ipv6: need(args.client.clone(), "client")?,
                    routed_prefix: need(args.prefix.clone(), "prefix")?,
                },
                "wireguard" => {
                    let Some(file) = &args.config else {
                        bail!("mode wireguard needs --config FILE (a wg-quick config)");
                    };
                    let config = std::fs::read_to_string(file)
                        .map_err(|e| anyhow::anyhow!("--config {}: {e}", file.display()))?;
                    Ipv6UplinkRequest::Wireguard {
                        config,
                        routed_prefix: args.prefix.clone(),
                    }
                }
                other => bail!("mode {other:?} is unknown; use none, native, 6in4 or wireguard"),
            };
            let info: Ipv6UplinkInfo = ctx
                .client
                .call(hyper::Method::PUT, "/network/ipv6", Some(&request))
                .await?;
            match ctx.format {
                Format::Json => output::json(&info),
                Format::Table => {
                    print_uplink(&info);
                    Ok(())
                }
            }
        }
    }
}

async fn show(ctx: &Context) -> anyhow::Result<()> {
    let info: NetworkInfo = ctx.client.get("/network").await?;
    if ctx.format == Format::Json {
        return output::json(&info);
    }
    let bridge = &info.bridge;
    println!("Bridge:     {} ({})", bridge.name, bridge.state);
    println!("IPv4:       {}", bridge.ipv4);
    println!("IPv6:       {}", bridge.ipv6.as_deref().unwrap_or("-"));
    println!("DNS:        {}", info.dns.join(", "));
    println!("nftables:   inet {}", info.nft_table);
    println!("Instances:  {}", info.instances);
    print_uplink(&info.ipv6_uplink);
    let caps = &info.capabilities;
    for (name, cap) in [
        ("6in4 (sit)", &caps.sit),
        ("WireGuard (kernel)", &caps.wireguard_kernel),
        ("WireGuard (userspace)", &caps.wireguard_userspace),
    ] {
        match &cap.reason {
            None => println!("  {name}: available"),
            Some(why) => println!("  {name}: not available: {why}"),
        }
    }
    Ok(())
}

fn print_uplink(info: &Ipv6UplinkInfo) {
    println!("Uplink:     {}", info.mode);
    for (label, value) in [
        ("Prefix", &info.prefix),
        ("Interface", &info.interface),
        ("Runs in", &info.implementation),
        ("Public key", &info.public_key),
        ("Server", &info.server_ipv4),
    ] {
        if let Some(value) = value {
            println!("  {label}: {value}");
        }
    }
}
