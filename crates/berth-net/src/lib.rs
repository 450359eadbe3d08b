//! Berth's host networking: the bridge, one network namespace and veth pair per instance,
//! address management, and the nftables table that does NAT and port forwards.

pub mod bridge;
pub mod caps;
pub mod forward;
pub mod ipam;
pub mod names;
pub mod netns;
pub mod nft;
mod nl;
mod pool;
pub mod uplink;
pub mod veth;
pub mod wgdevice;
pub mod wguapi;

pub use bridge::{BridgeConfig, BridgeError};
pub use forward::{
    Forward, ForwardError, ForwardSpec, Listener, Protocol, check_conflicts, host_listeners,
};
pub use ipam::{Allocation, IpamError, Net4, Net6, NetworkPlan};
pub use names::{format_mac, host_veth_name, instance_mac, netns_name};
pub use netns::{NetnsError, NetnsPath};
pub use nft::{Firewall, NftError, remove_table};
pub use nl::NlError;
pub use pool::AddressPool;
pub use veth::{GUEST_IFNAME, GuestLink, VethError, attach, detach};
