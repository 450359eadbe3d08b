//! The host network as berthd runs it: the bridge, each instance's addresses, netns and veth,
//! and the one nftables table (NAT, port forwards), rebuilt from the store whenever it changes.

mod addresses;
mod attach;
mod firewall;
pub mod forwards;
mod policy;
mod status;
mod uplink;
pub(crate) mod userns;

use std::net::IpAddr;

use berth_net::{BridgeConfig, NetworkPlan};
use tokio::sync::Mutex;

use crate::app::AppError;
use crate::config::NetworkConfig;

/// The host side of Berth's network: fixed at start from `[network]`.
pub struct HostNetwork {
    bridge: BridgeConfig,
    table: String,
    dns: Vec<IpAddr>,
    /// What the kernel can do for IPv6 uplinks, probed once at start.
    capabilities: berth_net::caps::HostCapabilities,
    /// Serialises changes to the bridge and the table; `true` once the bridge is up.
    ready: Mutex<bool>,
    /// The addresses held, as an O(1) allocator; built from the store at the first use.
    pool: std::sync::Mutex<Option<berth_net::AddressPool>>,
}

impl HostNetwork {
    pub fn new(config: &NetworkConfig) -> Result<Self, AppError> {
        let plan: NetworkPlan = config.plan()?;
        let mut dns = config.dns_servers()?;
        if dns.is_empty() {
            dns = host_resolvers(&std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default());
        }
        Ok(Self {
            bridge: BridgeConfig {
                name: config.bridge.clone(),
                plan,
            },
            table: config.table.clone(),
            dns,
            capabilities: berth_net::caps::HostCapabilities::detect(),
            ready: Mutex::new(false),
            pool: std::sync::Mutex::new(None),
        })
    }

    /// What the kernel can do (sit, WireGuard, TUN, nftables), as probed at start.
    pub fn capabilities(&self) -> &berth_net::caps::HostCapabilities {
        &self.capabilities
    }

    /// Refuses subnets that overlap another interface's addresses, naming the field; run at
    /// start so a bad `[network]` stops berthd before it changes anything.
    pub async fn check_host_overlap(&self) -> Result<(), AppError> {
        let bridge = self.bridge.clone();
        let checked = tokio::task::spawn_blocking(move || bridge.check_host_overlap())
            .await
            .map_err(|e| AppError::internal("checking the host's networks", e))?;
        match checked {
            Ok(()) => Ok(()),
            Err(berth_net::BridgeError::Overlap(field)) => Err(field.into()),
            Err(other) => Err(AppError::internal(
                "reading the host's addresses",
                crate::app::error::error_chain(&other),
            )),
        }
    }

    pub fn plan(&self) -> &NetworkPlan {
        &self.bridge.plan
    }
}

/// The `nameserver` lines of a resolv.conf a guest can reach: loopback ones (a local stub
/// resolver) are the host's own and useless inside a guest.
fn host_resolvers(resolv_conf: &str) -> Vec<IpAddr> {
    resolv_conf
        .lines()
        .filter_map(|line| line.trim().strip_prefix("nameserver"))
        .filter_map(|rest| rest.trim().parse::<IpAddr>().ok())
        .filter(|addr| !addr.is_loopback() && !addr.is_unspecified())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_resolvers_skip_loopback_stubs() {
        let text = "# x\nnameserver 127.0.0.53\nnameserver 192.0.2.53\nnameserver ::1\n\
                    nameserver 2001:db8::53\nsearch example\nnameserver bogus\n";
        let found: Vec<String> = host_resolvers(text)
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(found, vec!["192.0.2.53", "2001:db8::53"]);
    }
}
