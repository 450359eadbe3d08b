//! A proxmox guest's state, read through the `/cluster/resources` cache: fresh (HIT), read now
//! (MISS), or — while PVE does not answer — the last state read (STALE).

use berth_types::{CacheStatus, InstanceName};

use super::{ProxmoxRuntime, cache};
use crate::{Location, Observation, RuntimeError, RuntimeStatus};

impl ProxmoxRuntime {
    /// The guest's state and where it came from. While PVE is unreachable the last state read
    /// is returned as `Stale`; with nothing read yet, the error (also `Stale`).
    pub(super) async fn observe_cached(&self, name: &InstanceName) -> Observation {
        let seen = |status, freshness| Observation {
            status,
            freshness: Some(freshness),
            location: None,
            gone: None,
        };
        let (resources, freshness) = match self.cache.read().await {
            Ok(read) => read,
            Err(err) => return seen(Err(err), CacheStatus::Stale),
        };
        let Some(guest) = cache::find_guest(&resources, name) else {
            let gone = format!(
                "proxmox at {}: no container named {name} tagged {} any more (removed outside Berth)",
                self.url(),
                super::TAG
            );
            return Observation {
                gone: Some(gone),
                ..seen(Ok(RuntimeStatus::Stopped), freshness)
            };
        };
        let location = guest
            .node
            .clone()
            .zip(guest.vmid)
            .map(|(node, vmid)| Location { node, vmid });
        let seen = |status, freshness| Observation {
            location: location.clone(),
            ..seen(status, freshness)
        };
        let status = match guest.status.as_deref() {
            Some("running") if self.is_frozen(name) => RuntimeStatus::Frozen { pid: 0 },
            Some("running") => RuntimeStatus::Running { pid: 0 },
            Some("stopped") => RuntimeStatus::Stopped,
            other => {
                let node = guest.node.clone().unwrap_or_default();
                let reason = format!(
                    "proxmox node {node} holding {name} reports {:?} (node offline?)",
                    other.unwrap_or("nothing")
                );
                let err = RuntimeError::Unreachable {
                    backend: "proxmox",
                    reason,
                };
                return seen(Err(err), CacheStatus::Stale);
            }
        };
        seen(Ok(status), freshness)
    }
}
