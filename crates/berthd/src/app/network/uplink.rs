//! The bridge's IPv6 uplink (`PUT /network/ipv6`): validated against what this host can do,
//! applied (the previous one taken down first, and put back if the new one fails), stored,
//! and re-applied when berthd starts.

use berth_net::caps::HostCapabilities;
use berth_net::uplink::{Uplink, sit_ifname, wg_ifname};
use berth_types::api::{CapabilityInfo, Ipv6UplinkInfo, Ipv6UplinkRequest, NetworkCapabilities};

use crate::app::access::{self, Want};
use crate::app::{App, AppError, Principal};

const SETTING: &str = "network.ipv6_uplink";

impl App {
    fn uplink_pid_file(&self) -> std::path::PathBuf {
        self.config.runtime_dir.join("uplink-wg.pid")
    }

    fn uplink_helper() -> Vec<std::ffi::OsString> {
        let exe = std::env::current_exe()
            .unwrap_or_else(|_| std::path::PathBuf::from("/usr/local/bin/berthd"));
        vec![exe.into_os_string(), "uplink-wg".into()]
    }

    /// The stored uplink request, `none` when there is none.
    fn stored_uplink(&self) -> Result<Ipv6UplinkRequest, AppError> {
        Ok(self
            .store
            .get_setting::<Ipv6UplinkRequest>(SETTING)?
            .unwrap_or(Ipv6UplinkRequest::None))
    }

    /// `PUT /network/ipv6`.
    pub async fn set_ipv6_uplink(
        &self,
        caller: &Principal,
        request: Ipv6UplinkRequest,
    ) -> Result<Ipv6UplinkInfo, AppError> {
        access::admin(caller, Want::Write)?;
        let caps = self.network.capabilities.clone();
        let plan = *self.network.plan();
        let new = Uplink::validate(&request, &caps, &plan)?;
        self.ensure_bridge().await.map_err(|e| {
            AppError::Unavailable(format!(
                "bringing the bridge up: {}",
                crate::app::error::error_chain(&e)
            ))
        })?;
        let _changing = self.network.ready.lock().await;
        let old_request = self.stored_uplink()?;
        let old = Uplink::validate(&old_request, &caps, &plan).unwrap_or(Uplink::None);
        let bridge = self.network.bridge.name.clone();
        let pid_file = self.uplink_pid_file();
        let helper = Self::uplink_helper();
        let applied = tokio::task::spawn_blocking(move || {
            if let Err(e) = old.remove(&bridge, &pid_file) {
                tracing::warn!(error = %e, "taking the old uplink down");
            }
            match new.apply(&bridge, &helper, &pid_file) {
                Ok(()) => Ok(()),
                Err(e) => {
                    let _ = new.remove(&bridge, &pid_file);
                    let _ = old.apply(&bridge, &helper, &pid_file);
                    Err(e)
                }
            }
        })
        .await
        .map_err(|e| AppError::internal("uplink task", e))?;
        applied.map_err(|e| {
            AppError::Unavailable(format!(
                "bringing the uplink up: {}",
                crate::app::error::error_chain(&e)
            ))
        })?;
        self.store.set_setting(SETTING, &request)?;
        tracing::info!(mode = mode_name(&request), "IPv6 uplink changed");
        Ok(uplink_info(&request, &self.network.bridge.name))
    }

    pub(crate) fn has_uplink(&self) -> bool {
        !matches!(self.stored_uplink(), Ok(Ipv6UplinkRequest::None) | Err(_))
    }

    /// Re-applies the stored uplink (after a reboot, or a restart that found it gone).
    pub(crate) async fn restore_uplink(&self) {
        let Ok(request) = self.stored_uplink() else {
            return;
        };
        if request == Ipv6UplinkRequest::None {
            return;
        }
        let caps = self.network.capabilities.clone();
        let Ok(uplink) = Uplink::validate(&request, &caps, self.network.plan()) else {
            return tracing::error!("the stored IPv6 uplink is no longer valid here; set it again");
        };
        let bridge = self.network.bridge.name.clone();
        let pid_file = self.uplink_pid_file();
        let helper = Self::uplink_helper();
        let result =
            tokio::task::spawn_blocking(move || uplink.apply(&bridge, &helper, &pid_file)).await;
        if let Ok(Err(e)) = result {
            tracing::error!(error = %crate::app::error::error_chain(&e), "cannot restore the IPv6 uplink");
        }
    }

    pub(crate) fn uplink_view(&self) -> (Ipv6UplinkInfo, NetworkCapabilities) {
        let info = self
            .stored_uplink()
            .map(|r| uplink_info(&r, &self.network.bridge.name))
            .unwrap_or_default();
        (info, capabilities_info(&self.network.capabilities))
    }

    /// The routed prefix instances get global IPv6 from, if the uplink has one.
    pub(crate) fn routed_prefix(&self) -> Option<berth_net::uplink::RoutedPrefix> {
        let request = self.stored_uplink().ok()?;
        Uplink::validate(&request, &self.network.capabilities, self.network.plan())
            .ok()?
            .prefix()
    }
}

fn mode_name(request: &Ipv6UplinkRequest) -> &'static str {
    match request {
        Ipv6UplinkRequest::None => "none",
        Ipv6UplinkRequest::Native { .. } => "native",
        Ipv6UplinkRequest::SixInFour { .. } => "6in4",
        Ipv6UplinkRequest::Wireguard { .. } => "wireguard",
    }
}

fn uplink_info(request: &Ipv6UplinkRequest, bridge: &str) -> Ipv6UplinkInfo {
    let mut info = Ipv6UplinkInfo {
        mode: mode_name(request).to_owned(),
        ..Ipv6UplinkInfo::default()
    };
    match request {
        Ipv6UplinkRequest::None => {}
        Ipv6UplinkRequest::Native { prefix } => info.prefix = Some(prefix.clone()),
        Ipv6UplinkRequest::SixInFour {
            server_ipv4,
            routed_prefix,
            ..
        } => {
            info.prefix = Some(routed_prefix.clone());
            info.server_ipv4 = Some(server_ipv4.clone());
            info.interface = Some(sit_ifname(bridge));
        }
        Ipv6UplinkRequest::Wireguard {
            config,
            routed_prefix,
        } => {
            info.prefix = routed_prefix.clone();
            info.interface = Some(wg_ifname(bridge));
            info.implementation = Some("userspace".into());
            info.public_key = config
                .lines()
                .filter_map(|l| l.split_once('='))
                .find(|(k, _)| k.trim().eq_ignore_ascii_case("privatekey"))
                .and_then(|(_, v)| berth_net::wgdevice::public_key(v.trim()));
        }
    }
    info
}

fn capabilities_info(caps: &HostCapabilities) -> NetworkCapabilities {
    let one = |c: &berth_net::caps::Capability| CapabilityInfo {
        available: c.available,
        reason: c.reason.clone(),
    };
    NetworkCapabilities {
        sit: one(&caps.sit),
        wireguard_kernel: one(&caps.wireguard_kernel),
        wireguard_userspace: one(&caps.wireguard_userspace),
    }
}
