//! Static IPAM: the next free addresses from the bridge's subnets, persisted in the store
//! (whose UNIQUE constraints make a race lose and retry, never share an address). An
//! in-memory [`AddressPool`], built from the store once, picks them in O(1) each; the
//! instance deletions release into it.

use std::net::IpAddr;
use std::sync::MutexGuard;

use berth_net::{AddressPool, IpamError, instance_mac};
use berth_store::{AddressRecord, InstanceRecord, StoreError};
use berth_types::{InstanceName, InstanceNetwork, MacAddr};

use crate::app::{App, AppError};

/// Tries before giving up when the store keeps refusing the address picked.
const ALLOCATION_TRIES: usize = 8;

type PoolGuard<'a> = MutexGuard<'a, Option<AddressPool>>;

impl App {
    /// The pool, built from the store's addresses if it is not yet (or `rebuild`).
    fn address_pool(&self, rebuild: bool) -> Result<PoolGuard<'_>, AppError> {
        let mut guard = self
            .network
            .pool
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if guard.is_none() || rebuild {
            let in_use = self
                .store
                .all_addresses()?
                .into_iter()
                .flat_map(|a| [Some(IpAddr::V4(a.ipv4)), a.ipv6.map(IpAddr::V6)])
                .flatten();
            *guard = Some(AddressPool::new(*self.network.plan(), in_use));
        }
        Ok(guard)
    }

    /// How many of the bridge subnet's addresses are held (O(1)).
    pub(crate) fn addresses_held(&self) -> Result<usize, AppError> {
        Ok(self
            .address_pool(false)?
            .as_ref()
            .map_or(0, AddressPool::held))
    }

    /// Gives `record` its IPv4, IPv6 and MAC, and stores them with it.
    pub(crate) fn allocate_addresses(
        &self,
        record: &InstanceRecord,
    ) -> Result<AddressRecord, AppError> {
        let mac = MacAddr::new(instance_mac(&record.id.to_string()));
        let mut guard = self.address_pool(false)?;
        let mut rebuilt = false;
        for _ in 0..ALLOCATION_TRIES {
            let Some(pool) = guard.as_mut() else {
                break;
            };
            let allocation = match pool.allocate() {
                Ok(allocation) => allocation,
                // Once, in case a release went unseen: the store is the truth.
                Err(IpamError::Full(_)) if !rebuilt => {
                    drop(guard);
                    guard = self.address_pool(true)?;
                    rebuilt = true;
                    continue;
                }
                Err(e) => return Err(AppError::Conflict(e.to_string())),
            };
            let address = AddressRecord {
                ipv4: allocation.ipv4,
                ipv6: allocation.ipv6,
                mac,
            };
            match self.store.assign_addresses(&record.name, &address) {
                Ok(()) => {
                    tracing::debug!(instance = %record.name, ipv4 = %address.ipv4, "address allocated");
                    return Ok(address);
                }
                // Held in the store but not the pool: stays held there, try the next one.
                Err(StoreError::Conflict(_)) => continue,
                Err(other) => {
                    pool.release(allocation.ipv4);
                    return Err(other.into());
                }
            }
        }
        Err(AppError::Conflict(
            "could not reserve an address: the store kept refusing the free ones; retry".into(),
        ))
    }

    /// Forgets `name`'s record (its addresses, forwards, snapshots and backups go with the
    /// row) and returns its addresses to the pool.
    pub(crate) fn forget_instance_record(&self, name: &InstanceName) -> Result<(), StoreError> {
        let address = self.store.addresses_of(name)?;
        self.store.delete_instance(name)?;
        if let Some(address) = address {
            let mut guard = self
                .network
                .pool
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if let Some(pool) = guard.as_mut() {
                pool.release(address.ipv4);
            }
        }
        Ok(())
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
