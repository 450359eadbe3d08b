//! The host bridge every instance's veth plugs into: created (or adopted) with the gateway
//! addresses and brought up, over netlink.

use std::net::IpAddr;

use netlink_packet_route::link::{InfoKind, LinkAttribute, LinkInfo, LinkMessage};

use crate::ipam::NetworkPlan;
use crate::nl::{Netlink, NlError};

#[derive(Debug, thiserror::Error)]
pub enum BridgeError {
    #[error("bridge name {0:?} is not a valid interface name (1-15 chars of [A-Za-z0-9_.-])")]
    BadName(String),
    #[error("{0} exists and is not a bridge")]
    NotABridge(String),
    #[error(transparent)]
    Overlap(#[from] berth_types::FieldError),
    #[error("bridge {name}")]
    Netlink {
        name: String,
        #[source]
        source: NlError,
    },
}

/// The `[network]` section: the bridge's name and its subnets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BridgeConfig {
    pub name: String,
    pub plan: NetworkPlan,
}

/// Whether `name` is a usable interface name.
pub fn valid_ifname(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 15
        && name != "."
        && name != ".."
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

fn is_bridge(link: &LinkMessage) -> bool {
    link.attributes.iter().any(|attr| match attr {
        LinkAttribute::LinkInfo(infos) => infos.contains(&LinkInfo::Kind(InfoKind::Bridge)),
        _ => false,
    })
}

impl BridgeConfig {
    fn nl_err(&self) -> impl Fn(NlError) -> BridgeError + '_ {
        |source| BridgeError::Netlink {
            name: self.name.clone(),
            source,
        }
    }

    /// Makes sure the bridge exists, carries the gateway addresses and is up; adopts an existing
    /// bridge of that name. Returns its link index.
    pub fn ensure(&self) -> Result<u32, BridgeError> {
        if !valid_ifname(&self.name) {
            return Err(BridgeError::BadName(self.name.clone()));
        }
        let mut nl = Netlink::open().map_err(self.nl_err())?;
        let index = match nl.link(&self.name).map_err(self.nl_err())? {
            Some(link) if is_bridge(&link) => link.header.index,
            Some(_) => return Err(BridgeError::NotABridge(self.name.clone())),
            None => {
                let mut message = LinkMessage::default();
                message
                    .attributes
                    .push(LinkAttribute::IfName(self.name.clone()));
                message
                    .attributes
                    .push(LinkAttribute::LinkInfo(vec![LinkInfo::Kind(
                        InfoKind::Bridge,
                    )]));
                match nl.new_link(message) {
                    Err(e) if e.errno() != Some(libc::EEXIST) => return Err(self.nl_err()(e)),
                    _ => {}
                }
                tracing::info!(bridge = %self.name, "created bridge");
                nl.link_index(&self.name)
                    .map_err(self.nl_err())?
                    .ok_or_else(|| {
                        self.nl_err()(NlError::Kernel {
                            op: "get link",
                            source: std::io::Error::from_raw_os_error(libc::ENODEV),
                        })
                    })?
            }
        };
        let v4 = self.plan.ipv4;
        nl.add_address(index, IpAddr::V4(v4.gateway), v4.prefix)
            .map_err(self.nl_err())?;
        if let Some(v6) = self.plan.ipv6 {
            nl.add_address(index, IpAddr::V6(v6.gateway), v6.prefix)
                .map_err(self.nl_err())?;
        }
        // The gateway under another prefix (the subnet was widened, as the default /24 became
        // a /20): the old, narrower route would hide the rest of the new subnet's guests.
        let wanted = [
            Some((IpAddr::V4(v4.gateway), v4.prefix)),
            self.plan.ipv6.map(|v6| (IpAddr::V6(v6.gateway), v6.prefix)),
        ];
        for (link, addr, prefix) in nl.addresses().map_err(self.nl_err())? {
            let stale = wanted
                .iter()
                .flatten()
                .any(|&(gateway, keep)| addr == gateway && prefix != keep);
            if link == index && stale {
                nl.del_address(index, addr, prefix).map_err(self.nl_err())?;
                tracing::info!(bridge = %self.name, %addr, prefix, "removed the gateway's old prefix");
            }
        }
        nl.set_up(index).map_err(self.nl_err())?;
        Ok(index)
    }

    /// Deletes the bridge (tests, uninstall); none there is fine.
    pub fn remove(&self) -> Result<(), BridgeError> {
        let mut nl = Netlink::open().map_err(self.nl_err())?;
        if let Some(index) = nl.link_index(&self.name).map_err(self.nl_err())? {
            nl.del_link(index).map_err(self.nl_err())?;
            tracing::info!(bridge = %self.name, "removed bridge");
        }
        Ok(())
    }

    /// Refuses a plan that overlaps addresses on the host's other interfaces, naming the field
    /// (`network.ipv4` / `network.ipv6`).
    pub fn check_host_overlap(&self) -> Result<(), BridgeError> {
        let mut nl = Netlink::open().map_err(self.nl_err())?;
        let own = nl.link_index(&self.name).map_err(self.nl_err())?;
        let others: Vec<(IpAddr, u8)> = nl
            .addresses()
            .map_err(self.nl_err())?
            .into_iter()
            .filter(|(index, _, _)| Some(*index) != own)
            .map(|(_, addr, prefix)| (addr, prefix))
            .collect();
        self.plan.check_overlap(&others)?;
        Ok(())
    }
}
