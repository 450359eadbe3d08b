//! Address management, pure logic: the bridge subnets from the config, validated, and the
//! allocator that hands out the next free IPv4 with an IPv6 derived from it. No I/O: berthd
//! keeps the allocations in its store and passes the addresses in use.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use berth_types::FieldError;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IpamError {
    #[error(
        "network.ipv4: subnet {0} has no free address left (stopped instances hold theirs too); \
         delete instances you no longer need, or set network.ipv4 to a wider subnet that \
         contains this one (a shorter prefix: /20 holds 4,093 instances, /16 65,533) and \
         restart berthd"
    )]
    Full(String),
}

/// The bridge's IPv4 side: the gateway (the bridge's own address) and the prefix length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Net4 {
    pub gateway: Ipv4Addr,
    pub prefix: u8,
}

/// The bridge's IPv6 side: the gateway and the prefix length (normally a /64 ULA).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Net6 {
    pub gateway: Ipv6Addr,
    pub prefix: u8,
}

fn split_cidr<'a>(raw: &'a str, field: &str, example: &str) -> Result<(&'a str, u8), FieldError> {
    let (addr, prefix) = raw.trim().split_once('/').ok_or_else(|| {
        FieldError::new(
            field,
            format!("{raw:?} is not ADDRESS/PREFIX, such as {example}"),
        )
    })?;
    let prefix = prefix.parse::<u8>().map_err(|_| {
        FieldError::new(
            field,
            format!("{prefix:?} in {raw:?} is not a prefix length"),
        )
    })?;
    Ok((addr, prefix))
}

impl Net4 {
    /// Parses `10.88.0.1/24`: the gateway address and the subnet's prefix length, naming `field`.
    pub fn parse_field(raw: &str, field: &str) -> Result<Self, FieldError> {
        let (addr, prefix) = split_cidr(raw, field, "10.88.0.1/24")?;
        let gateway = addr
            .parse::<Ipv4Addr>()
            .map_err(|_| FieldError::new(field, format!("{addr:?} is not an IPv4 address")))?;
        if !(8..=30).contains(&prefix) {
            return Err(FieldError::new(
                field,
                format!("prefix /{prefix} is out of range; use /8 to /30"),
            ));
        }
        let net = Self { gateway, prefix };
        if gateway == net.network() || gateway == net.broadcast() {
            return Err(FieldError::new(
                field,
                format!(
                    "{gateway} is the network or broadcast address of {}",
                    net.cidr()
                ),
            ));
        }
        if gateway.is_loopback() || gateway.is_multicast() || gateway.is_unspecified() {
            return Err(FieldError::new(
                field,
                format!("{gateway} cannot be a gateway"),
            ));
        }
        Ok(net)
    }

    fn mask(&self) -> u32 {
        u32::MAX << (32 - u32::from(self.prefix))
    }

    pub fn network(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.gateway) & self.mask())
    }

    pub fn broadcast(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.gateway) | !self.mask())
    }

    pub fn contains(&self, addr: Ipv4Addr) -> bool {
        u32::from(addr) & self.mask() == u32::from(self.network())
    }

    /// `10.88.0.0/24`.
    pub fn cidr(&self) -> String {
        format!("{}/{}", self.network(), self.prefix)
    }

    /// The offset of `addr` from the network address.
    pub(crate) fn host_part(&self, addr: Ipv4Addr) -> u32 {
        u32::from(addr) & !self.mask()
    }
}

impl Net6 {
    /// Parses `fd42:88::1/64`, naming `field`.
    pub fn parse_field(raw: &str, field: &str) -> Result<Self, FieldError> {
        let (addr, prefix) = split_cidr(raw, field, "fd42:88::1/64")?;
        let gateway = addr
            .parse::<Ipv6Addr>()
            .map_err(|_| FieldError::new(field, format!("{addr:?} is not an IPv6 address")))?;
        if !(16..=120).contains(&prefix) {
            return Err(FieldError::new(
                field,
                format!("prefix /{prefix} is out of range; use /16 to /120 (normally /64)"),
            ));
        }
        let net = Self { gateway, prefix };
        if gateway == net.network() || gateway.is_loopback() || gateway.is_multicast() {
            return Err(FieldError::new(
                field,
                format!("{gateway} cannot be a gateway"),
            ));
        }
        Ok(net)
    }

    pub(crate) fn mask(&self) -> u128 {
        u128::MAX << (128 - u32::from(self.prefix))
    }

    pub fn network(&self) -> Ipv6Addr {
        Ipv6Addr::from(u128::from(self.gateway) & self.mask())
    }

    pub fn contains(&self, addr: Ipv6Addr) -> bool {
        u128::from(addr) & self.mask() == u128::from(self.network())
    }

    /// `fd42:88::/64`.
    pub fn cidr(&self) -> String {
        format!("{}/{}", self.network(), self.prefix)
    }
}

/// Both sides of the bridge network, validated together.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct NetworkPlan {
    pub ipv4: Net4,
    pub ipv6: Option<Net6>,
}

/// The addresses handed to one instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Allocation {
    pub ipv4: Ipv4Addr,
    pub ipv6: Option<Ipv6Addr>,
}

impl NetworkPlan {
    /// Parses the `[network]` `ipv4` and `ipv6` keys; errors name `network.ipv4` / `network.ipv6`.
    pub fn parse(ipv4: &str, ipv6: Option<&str>) -> Result<Self, FieldError> {
        let v4 = Net4::parse_field(ipv4, "network.ipv4")?;
        let v6 = ipv6
            .map(|raw| Net6::parse_field(raw, "network.ipv6"))
            .transpose()?;
        if let Some(v6) = v6 {
            let host_bits4 = 32 - u32::from(v4.prefix);
            let host_bits6 = 128 - u32::from(v6.prefix);
            if host_bits6 < host_bits4 {
                return Err(FieldError::new(
                    "network.ipv6",
                    format!(
                        "{} is smaller than {}; each instance's IPv6 is derived from its IPv4",
                        v6.cidr(),
                        v4.cidr()
                    ),
                ));
            }
        }
        Ok(Self { ipv4: v4, ipv6: v6 })
    }

    /// Refuses a plan whose subnets overlap networks already on the host (`existing`: address
    /// and prefix length of every other interface's address), naming the field.
    pub fn check_overlap(&self, existing: &[(IpAddr, u8)]) -> Result<(), FieldError> {
        for &(addr, prefix) in existing {
            match addr {
                IpAddr::V4(addr) => {
                    let common = prefix.min(self.ipv4.prefix);
                    let mask = u32::MAX.checked_shl(32 - u32::from(common)).unwrap_or(0);
                    if u32::from(addr) & mask == u32::from(self.ipv4.gateway) & mask {
                        return Err(FieldError::new(
                            "network.ipv4",
                            format!("{} overlaps {addr}/{prefix} on this host", self.ipv4.cidr()),
                        ));
                    }
                }
                IpAddr::V6(addr) => {
                    let Some(v6) = self.ipv6 else { continue };
                    if addr.is_loopback() || addr.is_unicast_link_local() {
                        continue;
                    }
                    let common = prefix.min(v6.prefix);
                    let mask = u128::MAX.checked_shl(128 - u32::from(common)).unwrap_or(0);
                    if u128::from(addr) & mask == u128::from(v6.gateway) & mask {
                        return Err(FieldError::new(
                            "network.ipv6",
                            format!("{} overlaps {addr}/{prefix} on this host", v6.cidr()),
                        ));
                    }
                }
            }
        }
        Ok(())
    }

    /// The IPv6 that goes with `ipv4`: the IPv6 network plus the IPv4's offset in its subnet
    /// (`10.88.0.12` → `fd42:88::c`). `None` without IPv6 or when `ipv4` is outside the subnet.
    pub fn ipv6_for(&self, ipv4: Ipv4Addr) -> Option<Ipv6Addr> {
        let v6 = self.ipv6?;
        if !self.ipv4.contains(ipv4) {
            return None;
        }
        let host = u128::from(self.ipv4.host_part(ipv4));
        Some(Ipv6Addr::from(u128::from(v6.network()) | host))
    }
}

#[cfg(test)]
#[path = "ipam_tests.rs"]
mod tests;
