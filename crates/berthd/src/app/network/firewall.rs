//! The nftables table, rebuilt whole from the store: every forward of every networked
//! instance that has addresses. Applied atomically by `nft -f`; other tables are never touched.

use std::net::IpAddr;

use berth_net::{Firewall, Forward, ForwardSpec};
use berth_store::ForwardRecord;

use crate::app::App;
use crate::app::error::HostError;

impl App {
    /// Rebuilds the table when the bridge is up (before that there is nothing to forward to).
    pub(crate) async fn rebuild_firewall(&self) -> Result<(), HostError> {
        let ready = self.network.ready.lock().await;
        if !*ready {
            return Ok(());
        }
        let forwards = self.firewall_forwards()?;
        let firewall = Firewall {
            table: self.network.table.clone(),
            bridge: self.network.bridge.clone(),
            forwards,
        };
        let applied = tokio::task::spawn_blocking(move || firewall.apply())
            .await
            .map_err(HostError::task)?
            .map_err(|e| HostError::host("applying the nftables table", e));
        drop(ready);
        applied
    }

    fn firewall_forwards(&self) -> Result<Vec<Forward>, HostError> {
        let mut out = Vec::new();
        let instances = self.store.list_instances()?;
        for record in instances
            .iter()
            .filter(|r| self.capabilities(&r.backend).network.on_bridge())
        {
            let Some(address) = self.store.addresses_of(&record.name)? else {
                continue;
            };
            let (guest4, guest6) = (address.ipv4, address.ipv6);
            for stored in self.store.list_forwards(Some(&record.name))? {
                match spec_of(&stored) {
                    Some(spec) => out.push(Forward {
                        instance: record.name.to_string(),
                        spec,
                        guest4,
                        guest6,
                    }),
                    None => {
                        tracing::warn!(instance = %record.name, forward = %stored.id, "skipping a stored forward that does not parse")
                    }
                }
            }
        }
        Ok(out)
    }
}

/// The spec a stored forward was made from.
pub(crate) fn spec_of(stored: &ForwardRecord) -> Option<ForwardSpec> {
    let listen = match &stored.listen {
        Some(raw) => Some(raw.parse::<IpAddr>().ok()?),
        None => None,
    };
    let protocol = match stored.protocol.as_str() {
        "tcp" => berth_net::Protocol::Tcp,
        "udp" => berth_net::Protocol::Udp,
        _ => return None,
    };
    Some(ForwardSpec {
        listen,
        start: stored.host_start,
        end: stored.host_end,
        guest_port: stored.guest_port,
        protocol,
    })
}
