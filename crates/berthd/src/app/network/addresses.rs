//! Static IPAM: the next free addresses from the bridge's subnets, persisted in the store
//! (whose UNIQUE constraints make a race lose and retry, never share an address).

use std::net::IpAddr;

use berth_net::instance_mac;
use berth_store::{AddressRecord, InstanceRecord, StoreError};
use berth_types::{InstanceNetwork, MacAddr};

use crate::app::{App, AppError};

/// Tries before giving up when concurrent creates keep taking the same address.
const ALLOCATION_TRIES: usize = 8;

impl App {
    /// Gives `record` its IPv4, IPv6 and MAC, and stores them with it.
    pub(crate) fn allocate_addresses(
        &self,
        record: &InstanceRecord,
    ) -> Result<AddressRecord, AppError> {
        let mac = MacAddr::new(instance_mac(&record.id.to_string()));
        for _ in 0..ALLOCATION_TRIES {
            let in_use: Vec<std::net::IpAddr> = self
                .store
                .all_addresses()?
                .iter()
                .flat_map(|a| [Some(IpAddr::V4(a.ipv4)), a.ipv6.map(IpAddr::V6)])
                .flatten()
                .collect();
            let allocation = self
                .network
                .plan()
                .allocate(&in_use)
                .map_err(|e| AppError::Conflict(format!("{e}; widen [network] ipv4")))?;
            let address = AddressRecord {
                ipv4: allocation.ipv4,
                ipv6: allocation.ipv6,
                mac,
            };
            match self.store.assign_addresses(&record.name, &address) {
                Ok(()) => return Ok(address),
                Err(StoreError::Conflict(_)) => continue,
                Err(other) => return Err(other.into()),
            }
        }
        Err(AppError::Conflict(
            "could not reserve an address while other instances were being created; retry".into(),
        ))
    }

    /// The `network` part of an instance's view.
    pub(crate) fn instance_network(
        &self,
        record: &InstanceRecord,
    ) -> Result<InstanceNetwork, AppError> {
        let Some(address) = self.store.addresses_of(&record.name)? else {
            return Ok(InstanceNetwork::default());
        };
        Ok(InstanceNetwork {
            ipv4: Some(address.ipv4.to_string()),
            ipv6: address.ipv6.map(|v6| v6.to_string()),
            mac: Some(address.mac.to_string()),
            forwards: self.forward_views(Some(&record.name))?,
        })
    }
}
