//! The network's request and response bodies: forwards, the bridge, the IPv6 uplink and what
//! this host can do for it (`/network`, `/instances/{name}/forwards`).

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// `POST /instances/{name}/forwards`: host `[ADDR:]PORT[-END]` → guest `port`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateForwardRequest {
    /// Host side: `2222`, `127.0.0.1:2222`, `[2001:db8::1]:80`, `8000-8010`; no address means
    /// every address of the host.
    pub listen: String,
    /// The guest port the (first) host port goes to.
    #[schema(minimum = 1, maximum = 65535)]
    pub port: u16,
    /// `tcp` (default) or `udp`.
    #[serde(default)]
    #[schema(value_type = Option<ForwardProtocol>)]
    pub protocol: Option<String>,
}

/// A forward's protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ForwardProtocol {
    Tcp,
    Udp,
}

/// `GET /network`: the host bridge and what this host can do for IPv6.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct NetworkInfo {
    pub bridge: BridgeInfo,
    /// Name servers guests are given.
    pub dns: Vec<String>,
    /// The nftables table (family `inet`) berthd owns.
    pub nft_table: String,
    /// Instances with an address on the bridge.
    pub instances: usize,
    pub ipv6_uplink: Ipv6UplinkInfo,
    pub capabilities: NetworkCapabilities,
    /// Forwards whose host port a program on the host now listens on too (it started after
    /// the forward was made): the forward takes that traffic, the host service gets none.
    /// Only the caller's own forwards, unless the caller is an admin.
    #[serde(default)]
    pub shadowed: Vec<ShadowedForward>,
}

/// A forward that shadows a host service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ShadowedForward {
    pub instance: String,
    /// The forward's id.
    pub forward: String,
    /// The forward's host side, `ADDR:PORT[-END]`.
    pub listen: String,
    pub protocol: String,
    /// What the host program listens on, `ADDR:PORT`.
    pub host_listener: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct BridgeInfo {
    pub name: String,
    /// `up`, `down`, or `absent` (created when the first instance needs it).
    pub state: String,
    /// Gateway and subnet, `10.88.0.1/24`.
    pub ipv4: String,
    /// Gateway and prefix, `fd42:88::1/64`; absent without IPv6.
    pub ipv6: Option<String>,
}

/// `PUT /network/ipv6`: how this host gets IPv6 to its instances.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "mode", rename_all = "snake_case", deny_unknown_fields)]
pub enum Ipv6UplinkRequest {
    /// Only the bridge's own prefix (ULA); no global IPv6.
    #[default]
    None,
    /// A prefix routed to this host (/48–/64); the bridge takes its first /64 and instances
    /// get addresses from it.
    Native { prefix: String },
    /// A 6in4 (sit) tunnel to a tunnel broker.
    #[serde(rename = "6in4")]
    SixInFour {
        server_ipv4: String,
        local_ipv4: String,
        /// This end's tunnel address, `2001:db8:1::2/64`.
        client_ipv6: String,
        routed_prefix: String,
    },
    /// A wg-quick config (no Pre/Post hooks); kernel WireGuard, or userspace without it.
    Wireguard {
        config: String,
        /// A prefix routed through the tunnel for the instances.
        #[serde(default)]
        routed_prefix: Option<String>,
    },
}

/// The IPv6 uplink as `GET /network` shows it (no private key).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Ipv6UplinkInfo {
    /// `none`, `native`, `6in4` or `wireguard`.
    pub mode: String,
    /// The routed prefix instances get addresses from.
    pub prefix: Option<String>,
    /// The tunnel interface, for 6in4 and wireguard.
    pub interface: Option<String>,
    /// `kernel` or `userspace` WireGuard.
    pub implementation: Option<String>,
    /// This end's WireGuard public key, to give the peer.
    pub public_key: Option<String>,
    pub server_ipv4: Option<String>,
}

/// One kernel capability and why it is missing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CapabilityInfo {
    pub available: bool,
    pub reason: Option<String>,
}

/// What this host can do for IPv6 uplinks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct NetworkCapabilities {
    pub sit: CapabilityInfo,
    pub wireguard_kernel: CapabilityInfo,
    pub wireguard_userspace: CapabilityInfo,
}
