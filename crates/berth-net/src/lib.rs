//! Berth's host networking: the bridge, one network namespace and veth pair per instance,
//! address management, and the nftables table that does NAT and port forwards.

pub mod ipam;
pub mod names;

pub use ipam::{Allocation, IpamError, Net4, Net6, NetworkPlan};
pub use names::{host_veth_name, instance_mac, netns_name};
