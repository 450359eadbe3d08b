//! IPv6 uplinks for the bridge: `native` (a prefix routed to the host), `6in4` (a sit tunnel
//! to a broker) and `wireguard` (kernel, or userspace with boringtun). Validation changes
//! nothing and names the field; `apply`/`remove` change only Berth's own interfaces and the
//! bridge's addresses.

use std::ffi::OsString;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::Path;

use berth_types::FieldError;
use berth_types::api::Ipv6UplinkRequest;
use berth_types::wireguard::WgQuickConfig;
use netlink_packet_route::link::{
    InfoData, InfoIpTunnel, InfoKind, LinkAttribute, LinkInfo, LinkMessage,
};

use crate::caps::HostCapabilities;
use crate::ipam::NetworkPlan;
use crate::nl::{Netlink, NlError};
use crate::wgdevice::{self, WgDeviceError, parse_cidr};
use crate::wguapi::{UapiConfig, UapiPeer};

/// The 6in4 tunnel interface of `bridge`'s uplink: `<bridge>-6in4` (or `berth-6in4` when that
/// would be too long).
pub fn sit_ifname(bridge: &str) -> String {
    named(bridge, "-6in4", "berth-6in4")
}

/// The WireGuard interface of `bridge`'s uplink: `<bridge>-wg`.
pub fn wg_ifname(bridge: &str) -> String {
    named(bridge, "-wg", "berth-wg0")
}

fn named(bridge: &str, suffix: &str, fallback: &str) -> String {
    let name = format!("{bridge}{suffix}");
    if name.len() <= 15 {
        name
    } else {
        fallback.to_owned()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum UplinkError {
    #[error("uplink interface {ifname}")]
    Netlink {
        ifname: String,
        #[source]
        source: NlError,
    },
    #[error(transparent)]
    WireGuard(#[from] WgDeviceError),
    #[error("setting sysctl {0}")]
    Sysctl(String, #[source] std::io::Error),
}

/// A routed prefix, /48 to /64; the bridge takes its first /64.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RoutedPrefix {
    pub network: Ipv6Addr,
    pub len: u8,
}

impl RoutedPrefix {
    pub fn parse(raw: &str, field: &str, plan: &NetworkPlan) -> Result<Self, FieldError> {
        let bad = |why: &str| FieldError::new(field, format!("{raw:?} {why}"));
        let (addr, len) = raw
            .split_once('/')
            .ok_or_else(|| bad("is not a prefix such as 2001:db8:42::/48"))?;
        let addr: Ipv6Addr = addr.parse().map_err(|_| bad("is not an IPv6 prefix"))?;
        let len: u8 = len.parse().map_err(|_| bad("has no prefix length"))?;
        if !(16..=64).contains(&len) {
            return Err(bad("must be between /16 and /64 (instances need a /64)"));
        }
        let mask = u128::MAX << (128 - u32::from(len));
        let network = Ipv6Addr::from(u128::from(addr) & mask);
        if network.is_loopback()
            || network.is_multicast()
            || network.is_unspecified()
            || network.is_unicast_link_local()
        {
            return Err(bad("is not a unicast prefix"));
        }
        if let Some(ula) = plan.ipv6
            && (ula.contains(network) || u128::from(ula.network()) & mask == u128::from(network))
        {
            return Err(bad(&format!("overlaps the bridge's own {}", ula.cidr())));
        }
        Ok(Self { network, len })
    }

    /// The bridge's address in the first /64: `prefix::1`.
    pub fn gateway(&self) -> Ipv6Addr {
        Ipv6Addr::from(u128::from(self.network) | 1)
    }

    pub fn cidr(&self) -> String {
        format!("{}/{}", self.network, self.len)
    }
}

/// A validated uplink, ready to apply.
#[derive(Debug, Clone)]
pub enum Uplink {
    None,
    Native(RoutedPrefix),
    SixInFour {
        server: Ipv4Addr,
        local: Ipv4Addr,
        client: (Ipv6Addr, u8),
        prefix: RoutedPrefix,
    },
    WireGuard {
        config: WgQuickConfig,
        uapi: UapiConfig,
        addresses: Vec<(IpAddr, u8)>,
        prefix: Option<RoutedPrefix>,
    },
}

impl Uplink {
    /// Checks `request` against this host; errors name the field (`prefix`, `config`, …).
    pub fn validate(
        request: &Ipv6UplinkRequest,
        caps: &HostCapabilities,
        plan: &NetworkPlan,
    ) -> Result<Self, FieldError> {
        match request {
            Ipv6UplinkRequest::None => Ok(Self::None),
            Ipv6UplinkRequest::Native { prefix } => {
                Ok(Self::Native(RoutedPrefix::parse(prefix, "prefix", plan)?))
            }
            Ipv6UplinkRequest::SixInFour {
                server_ipv4,
                local_ipv4,
                client_ipv6,
                routed_prefix,
            } => {
                let v4 = |raw: &str, field: &str| {
                    raw.parse::<Ipv4Addr>().map_err(|_| {
                        FieldError::new(field, format!("{raw:?} is not an IPv4 address"))
                    })
                };
                let server = v4(server_ipv4, "server_ipv4")?;
                let local = v4(local_ipv4, "local_ipv4")?;
                let client = match parse_cidr(client_ipv6) {
                    Some((IpAddr::V6(addr), len)) if client_ipv6.contains('/') => (addr, len),
                    _ => {
                        return Err(FieldError::new(
                            "client_ipv6",
                            format!(
                                "{client_ipv6:?} is not an IPv6 address/prefix such as 2001:db8:1::2/64"
                            ),
                        ));
                    }
                };
                let prefix = RoutedPrefix::parse(routed_prefix, "routed_prefix", plan)?;
                if !caps.sit.available {
                    return Err(FieldError::new(
                        "mode",
                        format!(
                            "6in4 is not possible on this host: {}",
                            caps.sit.reason.as_deref().unwrap_or("no sit support")
                        ),
                    ));
                }
                Ok(Self::SixInFour {
                    server,
                    local,
                    client,
                    prefix,
                })
            }
            Ipv6UplinkRequest::Wireguard {
                config,
                routed_prefix,
            } => {
                let parsed = WgQuickConfig::parse(config, "config")?;
                if parsed.has_hooks {
                    return Err(FieldError::new(
                        "config",
                        "PreUp/PostUp/PreDown/PostDown would run shell commands on the host; remove them",
                    ));
                }
                if !caps.wireguard() {
                    return Err(FieldError::new(
                        "mode",
                        format!(
                            "WireGuard is not possible on this host: {}",
                            caps.wireguard_userspace
                                .reason
                                .as_deref()
                                .unwrap_or("no TUN device")
                        ),
                    ));
                }
                let uapi = uapi_of(config);
                let addresses = parsed
                    .addresses
                    .iter()
                    .filter_map(|a| parse_cidr(a))
                    .collect();
                let prefix = routed_prefix
                    .as_deref()
                    .map(|p| RoutedPrefix::parse(p, "routed_prefix", plan))
                    .transpose()?;
                Ok(Self::WireGuard {
                    config: parsed,
                    uapi,
                    addresses,
                    prefix,
                })
            }
        }
    }

    /// The prefix instances get global addresses from.
    pub fn prefix(&self) -> Option<RoutedPrefix> {
        match self {
            Self::None => None,
            Self::Native(p) => Some(*p),
            Self::SixInFour { prefix, .. } => Some(*prefix),
            Self::WireGuard { prefix, .. } => *prefix,
        }
    }

    /// Brings the uplink up: tunnel interface (if any), the prefix's gateway on the bridge,
    /// IPv6 forwarding. `helper` runs the userspace WireGuard device.
    pub fn apply(
        &self,
        bridge: &str,
        helper: &[OsString],
        pid_file: &Path,
    ) -> Result<(), UplinkError> {
        match self {
            Self::None => return Ok(()),
            Self::Native(_) => {}
            Self::SixInFour {
                server,
                local,
                client,
                ..
            } => create_sit(&sit_ifname(bridge), *server, *local, *client)?,
            Self::WireGuard {
                uapi, addresses, ..
            } => {
                // Userspace always: it is configured over UAPI like the kernel's would be over
                // genetlink, and works wherever /dev/net/tun does.
                let ifname = wg_ifname(bridge);
                if !wgdevice::userspace_device_running(pid_file) {
                    wgdevice::spawn_userspace_device(helper, &ifname, pid_file)?;
                }
                wgdevice::configure_device(&ifname, uapi, addresses)?;
            }
        }
        if let Some(prefix) = self.prefix() {
            let nl_err = |source| UplinkError::Netlink {
                ifname: bridge.to_owned(),
                source,
            };
            let mut nl = Netlink::open().map_err(nl_err)?;
            if let Some(index) = nl.link_index(bridge).map_err(nl_err)? {
                nl.add_address(index, IpAddr::V6(prefix.gateway()), 64)
                    .map_err(nl_err)?;
            }
        }
        std::fs::write("/proc/sys/net/ipv6/conf/all/forwarding", "1")
            .map_err(|e| UplinkError::Sysctl("net.ipv6.conf.all.forwarding".into(), e))
    }

    /// Takes the uplink down: its tunnel and the prefix's gateway address on the bridge.
    pub fn remove(&self, bridge: &str, pid_file: &Path) -> Result<(), UplinkError> {
        let nl_err = |ifname: &str| {
            let ifname = ifname.to_owned();
            move |source| UplinkError::Netlink {
                ifname: ifname.clone(),
                source,
            }
        };
        let mut nl = Netlink::open().map_err(nl_err(bridge))?;
        if let Some(prefix) = self.prefix()
            && let Some(index) = nl.link_index(bridge).map_err(nl_err(bridge))?
        {
            nl.del_address(index, IpAddr::V6(prefix.gateway()), 64)
                .map_err(nl_err(bridge))?;
        }
        match self {
            Self::WireGuard { .. } => {
                let ifname = wg_ifname(bridge);
                wgdevice::stop_userspace_device(&ifname, pid_file);
                if let Some(index) = nl.link_index(&ifname).map_err(nl_err(&ifname))? {
                    nl.del_link(index).map_err(nl_err(&ifname))?;
                }
            }
            Self::SixInFour { .. } => {
                let ifname = sit_ifname(bridge);
                if let Some(index) = nl.link_index(&ifname).map_err(nl_err(&ifname))? {
                    nl.del_link(index).map_err(nl_err(&ifname))?;
                }
            }
            _ => {}
        }
        Ok(())
    }
}

/// The UAPI form of a wg-quick text (keys, listen port, peers).
fn uapi_of(text: &str) -> UapiConfig {
    let mut config = UapiConfig {
        private_key: String::new(),
        listen_port: None,
        peers: Vec::new(),
    };
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or("").trim();
        if line.eq_ignore_ascii_case("[peer]") {
            config.peers.push(UapiPeer {
                public_key: String::new(),
                preshared_key: None,
                endpoint: None,
                allowed_ips: Vec::new(),
                keepalive: None,
            });
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        let (key, value) = (key.trim().to_ascii_lowercase(), value.trim().to_owned());
        match (key.as_str(), config.peers.last_mut()) {
            ("privatekey", _) => config.private_key = value,
            ("listenport", _) => config.listen_port = value.parse().ok(),
            ("publickey", Some(peer)) => peer.public_key = value,
            ("presharedkey", Some(peer)) => peer.preshared_key = Some(value),
            ("endpoint", Some(peer)) => peer.endpoint = Some(value),
            ("persistentkeepalive", Some(peer)) => peer.keepalive = value.parse().ok(),
            ("allowedips", Some(peer)) => peer.allowed_ips.extend(
                value
                    .split(',')
                    .map(|v| v.trim().to_owned())
                    .filter(|v| !v.is_empty()),
            ),
            _ => {}
        }
    }
    config
}

fn create_sit(
    ifname: &str,
    server: Ipv4Addr,
    local: Ipv4Addr,
    client: (Ipv6Addr, u8),
) -> Result<(), UplinkError> {
    let nl_err = |source| UplinkError::Netlink {
        ifname: ifname.to_owned(),
        source,
    };
    let mut nl = Netlink::open().map_err(nl_err)?;
    if nl.link_index(ifname).map_err(nl_err)?.is_none() {
        let mut message = LinkMessage::default();
        message
            .attributes
            .push(LinkAttribute::IfName(ifname.to_owned()));
        message.attributes.push(LinkAttribute::LinkInfo(vec![
            LinkInfo::Kind(InfoKind::SitTun),
            LinkInfo::Data(InfoData::IpTunnel(vec![
                InfoIpTunnel::Local(IpAddr::V4(local)),
                InfoIpTunnel::Remote(IpAddr::V4(server)),
                InfoIpTunnel::Ttl(255),
            ])),
        ]));
        nl.new_link(message).map_err(nl_err)?;
    }
    let index = nl.link_index(ifname).map_err(nl_err)?.ok_or_else(|| {
        nl_err(NlError::Kernel {
            op: "get link",
            source: std::io::Error::from_raw_os_error(libc::ENODEV),
        })
    })?;
    nl.add_address(index, IpAddr::V6(client.0), client.1)
        .map_err(nl_err)?;
    nl.set_up(index).map_err(nl_err)?;
    nl.add_link_route(index, IpAddr::V6(Ipv6Addr::UNSPECIFIED), 0)
        .map_err(nl_err)
}
