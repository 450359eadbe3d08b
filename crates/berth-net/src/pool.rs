//! The address pool berthd keeps in memory: which host offsets of the bridge subnet are held,
//! so each allocation is O(1) (amortized) instead of a scan of every address in use.
//!
//! Offsets are handed out from two sources: addresses released since (oldest first), then a
//! high-water mark that only moves up. Each offset passes the mark once and enters the
//! released queue once per release, so a run of allocations costs O(1) each however large the
//! subnet. Built from the addresses in the store, the offsets below the highest one held are
//! the released queue, in order: the first allocation after a restart is still the lowest free
//! address. The store stays the source of truth (its UNIQUE constraints); the pool is its index.

use std::collections::{HashSet, VecDeque};
use std::net::{IpAddr, Ipv4Addr};

use crate::ipam::{Allocation, IpamError, NetworkPlan};

/// The held and free host offsets of one [`NetworkPlan`].
#[derive(Debug, Clone)]
pub struct AddressPool {
    plan: NetworkPlan,
    /// Host offsets held (network address = 0).
    held: HashSet<u32>,
    /// Offsets free below `next`, oldest release first; entries held again since are skipped.
    released: VecDeque<u32>,
    /// The lowest offset never handed out (nor held) since the pool was built.
    next: u32,
    /// The broadcast offset: one past the last host.
    broadcast: u32,
    /// The IPv4 gateway's offset, and the IPv4 offset that maps to the IPv6 gateway (if any).
    reserved: [Option<u32>; 2],
}

impl AddressPool {
    /// The pool of `plan` with `in_use` (addresses of either family) held. O(highest offset
    /// held), once.
    pub fn new(plan: NetworkPlan, in_use: impl IntoIterator<Item = IpAddr>) -> Self {
        let v4 = plan.ipv4;
        let broadcast = v4.host_part(v4.broadcast());
        let gateway6 = plan.ipv6.and_then(|v6| offset_of_v6(&plan, v6.gateway));
        let mut pool = Self {
            plan,
            held: HashSet::new(),
            released: VecDeque::new(),
            next: 1,
            broadcast,
            reserved: [Some(v4.host_part(v4.gateway)), gateway6],
        };
        for addr in in_use {
            if let Some(offset) = pool.offset_of(addr) {
                pool.held.insert(offset);
            }
        }
        let top = pool.held.iter().copied().max().unwrap_or(0);
        for offset in 1..=top {
            if pool.usable(offset) && !pool.held.contains(&offset) {
                pool.released.push_back(offset);
            }
        }
        pool.next = top + 1;
        pool
    }

    pub fn plan(&self) -> &NetworkPlan {
        &self.plan
    }

    /// How many of the subnet's addresses are held.
    pub fn held(&self) -> usize {
        self.held.len()
    }

    /// The next free IPv4 and its IPv6, now held. Amortized O(1).
    pub fn allocate(&mut self) -> Result<Allocation, IpamError> {
        while let Some(offset) = self.released.pop_front() {
            if !self.held.contains(&offset) {
                return Ok(self.take(offset));
            }
        }
        while self.next < self.broadcast {
            let offset = self.next;
            self.next += 1;
            if self.usable(offset) && !self.held.contains(&offset) {
                return Ok(self.take(offset));
            }
        }
        Err(IpamError::Full(self.plan.ipv4.cidr()))
    }

    /// Holds `addr` (found taken elsewhere, such as by the store); outside the subnets is a no-op.
    pub fn hold(&mut self, addr: IpAddr) {
        if let Some(offset) = self.offset_of(addr) {
            self.held.insert(offset);
        }
    }

    /// Frees `addr` for a later allocation; one not held, or outside the subnet, is a no-op.
    pub fn release(&mut self, addr: Ipv4Addr) {
        if let Some(offset) = self.offset_of(IpAddr::V4(addr))
            && self.held.remove(&offset)
            && offset < self.next
        {
            self.released.push_back(offset);
        }
    }

    fn take(&mut self, offset: u32) -> Allocation {
        self.held.insert(offset);
        let ipv4 = Ipv4Addr::from(u32::from(self.plan.ipv4.network()) + offset);
        Allocation {
            ipv4,
            ipv6: self.plan.ipv6_for(ipv4),
        }
    }

    fn usable(&self, offset: u32) -> bool {
        offset > 0 && offset < self.broadcast && !self.reserved.contains(&Some(offset))
    }

    /// The host offset an address of either family stands for (an IPv6 stands for the IPv4
    /// with the same offset); `None` outside the subnets or the usable hosts.
    fn offset_of(&self, addr: IpAddr) -> Option<u32> {
        let offset = match addr {
            IpAddr::V4(v4) if self.plan.ipv4.contains(v4) => self.plan.ipv4.host_part(v4),
            IpAddr::V4(_) => return None,
            IpAddr::V6(v6) => offset_of_v6(&self.plan, v6)?,
        };
        self.usable(offset).then_some(offset)
    }
}

/// The IPv4 host offset an IPv6 of the plan's IPv6 subnet maps to, if it is one.
fn offset_of_v6(plan: &NetworkPlan, addr: std::net::Ipv6Addr) -> Option<u32> {
    let v6 = plan.ipv6?;
    if !v6.contains(addr) {
        return None;
    }
    let host = u128::from(addr) & !v6.mask();
    let hosts4 = 1u128 << (32 - u32::from(plan.ipv4.prefix));
    u32::try_from(host).ok().filter(|_| host < hosts4)
}

impl NetworkPlan {
    /// The lowest free IPv4 (never the network, gateway or broadcast address) and its IPv6.
    /// `in_use` holds every address already allocated, of either family. One-off: O(subnet);
    /// berthd keeps an [`AddressPool`] instead, O(1) per allocation.
    pub fn allocate(&self, in_use: &[IpAddr]) -> Result<Allocation, IpamError> {
        AddressPool::new(*self, in_use.iter().copied()).allocate()
    }
}

#[cfg(test)]
#[path = "pool_tests.rs"]
mod tests;
