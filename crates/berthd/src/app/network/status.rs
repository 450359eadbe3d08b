//! `GET /network`: the bridge as the kernel sees it and the plan berthd runs.

use berth_types::api::{BridgeInfo, NetworkInfo};

use crate::app::{App, AppError, Principal};

impl App {
    /// `GET /network` as `caller` sees it: the shadowed forwards are theirs only, unless admin.
    pub async fn network_info_for(&self, caller: &Principal) -> Result<NetworkInfo, AppError> {
        let listeners = tokio::task::spawn_blocking(berth_net::host_listeners)
            .await
            .map_err(|e| AppError::internal("reading host listeners", e))?;
        let mut info = self.network_info()?;
        info.shadowed = self.shadowed_forwards(&listeners, Some(caller))?;
        Ok(info)
    }

    pub fn network_info(&self) -> Result<NetworkInfo, AppError> {
        let bridge = &self.network.bridge;
        let operstate = std::path::Path::new("/sys/class/net")
            .join(&bridge.name)
            .join("operstate");
        let state = match std::fs::read_to_string(operstate) {
            Err(_) => "absent".to_owned(),
            // A bridge with no ports reports `down` though it is administratively up.
            Ok(text) if text.trim() == "down" => "down".to_owned(),
            Ok(_) => "up".to_owned(),
        };
        let plan = bridge.plan;
        let (ipv6_uplink, capabilities) = self.uplink_view();
        Ok(NetworkInfo {
            ipv6_uplink,
            capabilities,
            bridge: BridgeInfo {
                name: bridge.name.clone(),
                state,
                ipv4: format!("{}/{}", plan.ipv4.gateway, plan.ipv4.prefix),
                ipv6: plan.ipv6.map(|v6| format!("{}/{}", v6.gateway, v6.prefix)),
            },
            dns: self.network.dns.iter().map(ToString::to_string).collect(),
            nft_table: self.network.table.clone(),
            instances: self.store.all_addresses()?.len(),
            shadowed: Vec::new(),
        })
    }
}
