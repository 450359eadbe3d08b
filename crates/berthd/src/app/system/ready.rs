//! `GET /readyz`: the store, the storage pool, the network (nftables) and each backend, ok or why not, and
//! the capacity left for guests.

use berth_types::capacity::{Readiness, ReadyCheck};

use crate::app::App;
use crate::app::error::error_chain;

impl App {
    /// Whether berthd can take work now; never fails, it says what does.
    pub async fn readiness(&self) -> Readiness {
        let check = |name: String, result: Result<(), String>| ReadyCheck {
            name,
            ok: result.is_ok(),
            reason: result.err(),
        };
        let mut checks = vec![check(
            "store".into(),
            self.store
                .list_instances()
                .map(drop)
                .map_err(|e| error_chain(&e)),
        )];
        let pool = self.storage.pool_path();
        checks.push(check(
            "storage".into(),
            if pool.is_dir() {
                Ok(())
            } else {
                Err(format!("the storage pool {} is missing", pool.display()))
            },
        ));
        // The bridge is made when the first guest is plugged in; what it needs is nftables.
        let nft = &self.network.capabilities().nftables;
        checks.push(check(
            "network".into(),
            if nft.available {
                Ok(())
            } else {
                Err(nft
                    .reason
                    .clone()
                    .unwrap_or_else(|| "nftables is not usable".into()))
            },
        ));
        for (name, usable) in self.backends.usability() {
            checks.push(check(format!("backend:{name}"), usable));
        }
        let capacity = self.capacity_left().unwrap_or_default();
        // A backend this host cannot run is reported, not a reason to take no work at all.
        let core_ok = checks
            .iter()
            .filter(|c| !c.name.starts_with("backend:"))
            .all(|c| c.ok);
        Readiness {
            ready: core_ok && capacity.guests_left > 0,
            checks,
            guests_left: capacity.guests_left,
            limited_by: capacity.limited_by,
            warnings: capacity.warnings,
        }
    }
}
