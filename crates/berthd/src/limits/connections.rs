//! Connection budgets: TCP connections held at once in all and per client address, and the
//! unix socket's own budget, so a TCP flood can neither exhaust berthd's descriptors nor keep
//! the admin out. A connection over budget is closed as soon as it is accepted.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

/// Why a connection was turned away.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    #[error("{0} connections are open, the most berthd holds")]
    Full(u32),
    #[error("{0} connections are open from this client address, the most it may hold")]
    ClientFull(u32),
}

#[derive(Debug, Default)]
struct Counts {
    total: u32,
    per_client: HashMap<IpAddr, u32>,
}

/// One budget: a total, and optionally a share per client address.
#[derive(Debug, Clone)]
pub struct ConnectionLimiter {
    max: u32,
    max_per_client: u32,
    counts: Arc<Mutex<Counts>>,
}

/// A held connection; dropping it gives its place back.
#[derive(Debug)]
pub struct ConnectionPermit {
    counts: Arc<Mutex<Counts>>,
    client: Option<IpAddr>,
}

impl ConnectionLimiter {
    pub fn new(max: u32, max_per_client: u32) -> Self {
        Self {
            max,
            max_per_client,
            counts: Arc::default(),
        }
    }

    /// A place for a connection from `client` (`None`: the unix socket, counted in total only).
    pub fn admit(&self, client: Option<IpAddr>) -> Result<ConnectionPermit, Refused> {
        let mut counts = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        if counts.total >= self.max {
            return Err(Refused::Full(self.max));
        }
        if let Some(ip) = client {
            let held = counts.per_client.entry(normalise(ip)).or_default();
            if *held >= self.max_per_client {
                return Err(Refused::ClientFull(self.max_per_client));
            }
            *held += 1;
        }
        counts.total += 1;
        Ok(ConnectionPermit {
            counts: self.counts.clone(),
            client: client.map(normalise),
        })
    }

    /// Connections held now.
    pub fn held(&self) -> u32 {
        self.counts.lock().unwrap_or_else(|p| p.into_inner()).total
    }
}

impl Drop for ConnectionPermit {
    fn drop(&mut self) {
        let mut counts = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        counts.total = counts.total.saturating_sub(1);
        if let Some(ip) = self.client
            && let Some(held) = counts.per_client.get_mut(&ip)
        {
            *held = held.saturating_sub(1);
            if *held == 0 {
                counts.per_client.remove(&ip);
            }
        }
    }
}

/// An IPv4 client reaching a dual-stack listener counts as its IPv4 address.
fn normalise(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn totals_and_per_client_shares_are_held_and_given_back() {
        let limiter = ConnectionLimiter::new(4, 2);
        let a: IpAddr = "192.0.2.1".parse().expect("ip");
        let mapped: IpAddr = "::ffff:192.0.2.1".parse().expect("ip");
        let b: IpAddr = "192.0.2.2".parse().expect("ip");
        let first = limiter.admit(Some(a)).expect("first");
        let _second = limiter.admit(Some(mapped)).expect("second");
        assert_eq!(limiter.admit(Some(a)).err(), Some(Refused::ClientFull(2)));
        let _third = limiter.admit(Some(b)).expect("another client");
        let _socket = limiter.admit(None).expect("no client share");
        assert_eq!(limiter.admit(Some(b)).err(), Some(Refused::Full(4)));
        drop(first);
        assert_eq!(limiter.held(), 3);
        let _again = limiter.admit(Some(a)).expect("a place was given back");
    }
}
