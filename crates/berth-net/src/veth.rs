//! Attaching an instance: its named netns, and a veth pair with the host end on the bridge and
//! the guest end, `eth0` with the instance's MAC, created directly inside the netns.

use std::fs::File;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::fd::AsRawFd;

use berth_types::InstanceName;
use netlink_packet_route::link::LinkMessage;
use netlink_packet_route::link::{InfoData, InfoKind, InfoVeth, LinkAttribute, LinkInfo};

use crate::bridge::BridgeConfig;
use crate::names::{host_veth_name, netns_name};
use crate::netns::{NetnsError, NetnsPath};
use crate::nl::{Netlink, NlError};

/// The guest's interface name inside its netns.
pub const GUEST_IFNAME: &str = "eth0";

#[derive(Debug, thiserror::Error)]
pub enum VethError {
    #[error("bridge {0} does not exist")]
    NoBridge(String),
    #[error(transparent)]
    Netns(#[from] NetnsError),
    #[error("veth of {instance}")]
    Netlink {
        instance: String,
        #[source]
        source: NlError,
    },
    #[error("opening netns {instance}")]
    Open {
        instance: String,
        #[source]
        source: std::io::Error,
    },
}

/// What the guest end gets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GuestLink {
    pub mac: [u8; 6],
    pub ipv4: Option<Ipv4Addr>,
    pub ipv6: Option<Ipv6Addr>,
    /// Also put the addresses and default routes on `eth0` from the host. Off for real guests
    /// (their systemd-networkd does it from the files `berth_guestfs::network` writes); on for
    /// tests and guests without networkd.
    pub configure: bool,
}

/// Creates (or re-creates) the instance's netns and veth pair; returns the netns path for
/// `ContainerSpec.netns`. Safe to call again for an attached instance: the old pair is replaced.
pub fn attach(
    bridge: &BridgeConfig,
    instance: &InstanceName,
    guest: &GuestLink,
) -> Result<NetnsPath, VethError> {
    let name = instance.as_str();
    let nl_err = |source| VethError::Netlink {
        instance: name.to_owned(),
        source,
    };
    let netns = NetnsPath::named(&netns_name(name));
    netns.create()?;
    let host = host_veth_name(name);
    let mut nl = Netlink::open().map_err(nl_err)?;
    let bridge_index = nl
        .link_index(&bridge.name)
        .map_err(nl_err)?
        .ok_or_else(|| VethError::NoBridge(bridge.name.clone()))?;
    if let Some(stale) = nl.link_index(&host).map_err(nl_err)? {
        tracing::info!(instance = %name, veth = %host, "replacing stale veth");
        nl.del_link(stale).map_err(nl_err)?;
    }
    let mut inside = Netlink::open_in(netns.as_path()).map_err(nl_err)?;
    if let Some(stale) = inside.link_index(GUEST_IFNAME).map_err(nl_err)? {
        inside.del_link(stale).map_err(nl_err)?;
    }
    let ns_file = File::open(netns.as_path()).map_err(|source| VethError::Open {
        instance: name.to_owned(),
        source,
    })?;
    let mut peer = LinkMessage::default();
    peer.attributes
        .push(LinkAttribute::IfName(GUEST_IFNAME.to_owned()));
    peer.attributes
        .push(LinkAttribute::Address(guest.mac.to_vec()));
    peer.attributes
        .push(LinkAttribute::NetNsFd(ns_file.as_raw_fd()));
    let mut message = LinkMessage::default();
    message.attributes.push(LinkAttribute::IfName(host.clone()));
    message
        .attributes
        .push(LinkAttribute::Controller(bridge_index));
    message.attributes.push(LinkAttribute::LinkInfo(vec![
        LinkInfo::Kind(InfoKind::Veth),
        LinkInfo::Data(InfoData::Veth(InfoVeth::Peer(peer))),
    ]));
    nl.new_link(message).map_err(nl_err)?;
    drop(ns_file);
    let host_index = nl
        .link_index(&host)
        .map_err(nl_err)?
        .ok_or_else(|| nl_err(enodev("get link")))?;
    nl.set_up(host_index).map_err(nl_err)?;

    if let Some(lo) = inside.link_index("lo").map_err(nl_err)? {
        inside.set_up(lo).map_err(nl_err)?;
    }
    let eth0 = inside
        .link_index(GUEST_IFNAME)
        .map_err(nl_err)?
        .ok_or_else(|| nl_err(enodev("get link")))?;
    inside.set_up(eth0).map_err(nl_err)?;
    if guest.configure {
        let plan = bridge.plan;
        if let Some(v4) = guest.ipv4 {
            inside
                .add_address(eth0, IpAddr::V4(v4), plan.ipv4.prefix)
                .map_err(nl_err)?;
            inside
                .add_default_route(eth0, IpAddr::V4(plan.ipv4.gateway))
                .map_err(nl_err)?;
        }
        if let (Some(v6), Some(net6)) = (guest.ipv6, plan.ipv6) {
            inside
                .add_address(eth0, IpAddr::V6(v6), net6.prefix)
                .map_err(nl_err)?;
            inside
                .add_default_route(eth0, IpAddr::V6(net6.gateway))
                .map_err(nl_err)?;
        }
    }
    tracing::info!(instance = %name, veth = %host, netns = %netns.as_path().display(), "attached");
    Ok(netns)
}

/// Removes the instance's veth pair and netns; nothing left to remove is fine.
pub fn detach(instance: &InstanceName) -> Result<(), VethError> {
    let name = instance.as_str();
    let nl_err = |source| VethError::Netlink {
        instance: name.to_owned(),
        source,
    };
    let host = host_veth_name(name);
    let mut nl = Netlink::open().map_err(nl_err)?;
    if let Some(index) = nl.link_index(&host).map_err(nl_err)? {
        nl.del_link(index).map_err(nl_err)?;
    }
    NetnsPath::named(&netns_name(name)).remove()?;
    tracing::info!(instance = %name, "detached");
    Ok(())
}

fn enodev(op: &'static str) -> NlError {
    NlError::Kernel {
        op,
        source: std::io::Error::from_raw_os_error(libc::ENODEV),
    }
}
