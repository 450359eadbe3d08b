//! `berth network`: the bridge, its subnets and name servers.

use berth_types::api::NetworkInfo;

use super::Context;
use crate::output::{self, Format};

pub async fn show(ctx: &Context) -> anyhow::Result<()> {
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
    Ok(())
}
