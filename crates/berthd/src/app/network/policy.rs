//! Who may forward what: an ordinary user's forwards listen only on the addresses
//! `[network] forward_addresses` names (an unspecified address there stands for every address
//! of its family), take host ports below 1024 only inside a range an admin granted them
//! (`quota.port_range`), and number at most `max_forwards_per_user`; a clash never names
//! another tenant's instance. And the forwards that shadow a host service started after them,
//! reported at each nftables rebuild and in `GET /network`.

use std::collections::HashMap;
use std::net::IpAddr;

use berth_auth::Role;
use berth_net::{ForwardError, ForwardSpec, Listener, check_conflicts};
use berth_types::FieldError;
use berth_types::api::ShadowedForward;

use super::firewall::spec_of;
use crate::app::{App, AppError, Principal};

/// Host ports below this are privileged.
const PRIVILEGED_BELOW: u16 = 1024;

impl App {
    /// Refuses a forward that `owner` may not have (before anything is stored). An admin
    /// caller may pick any address and port for anyone's instance; the count still holds.
    pub(super) fn check_forward_policy(
        &self,
        caller: &Principal,
        owner: &str,
        spec: &ForwardSpec,
    ) -> Result<(), AppError> {
        let account = self.auth.db().user_by_name(owner)?;
        let owners = self.instance_owners()?;
        let held = self
            .store
            .list_forwards(None)?
            .iter()
            .filter(|f| owners.get(f.instance.as_str()).is_some_and(|o| o == owner))
            .count();
        let max = self.config.network.max_forwards_per_user;
        if held >= usize::try_from(max).unwrap_or(usize::MAX) {
            return Err(AppError::QuotaExceeded {
                field: "forwards".into(),
                message: format!(
                    "{owner} holds {held} forwards, the most one account may hold on this host \
                     ({max}); remove one first"
                ),
            });
        }
        let Some(account) = account.filter(|a| a.role != Role::Admin && !caller.is_admin()) else {
            return Ok(());
        };
        if spec.start < PRIVILEGED_BELOW && account.quota.port_range.is_none() {
            return Err(FieldError::new(
                "listen",
                format!(
                    "host port {} is privileged (below {PRIVILEGED_BELOW}); use 1024 or above, \
                     or ask an admin to grant you a range (quota.port_range)",
                    spec.start
                ),
            )
            .into());
        }
        let allowed = self.config.network.forward_addresses().unwrap_or_default();
        // "0.0.0.0" ("::") is every IPv4 (IPv6) address: a forward without ADDR listens on
        // all of them, so one on a single address of that family asks for less.
        let permitted = match spec.listen {
            None => allowed.iter().any(IpAddr::is_unspecified),
            Some(addr) => allowed
                .iter()
                .any(|a| *a == addr || (a.is_unspecified() && a.is_ipv4() == addr.is_ipv4())),
        };
        if !permitted {
            let shown: Vec<String> = allowed
                .iter()
                .map(|a| match a {
                    a if a.is_unspecified() => "every address (no ADDR)".to_owned(),
                    a => a.to_string(),
                })
                .collect();
            return Err(FieldError::new(
                "listen",
                format!(
                    "{} is not an address you may forward from; use {}",
                    spec.listen
                        .map_or("every address".to_owned(), |a| a.to_string()),
                    if shown.is_empty() {
                        "none: ask an admin".to_owned()
                    } else {
                        shown.join(" or ")
                    }
                ),
            )
            .into());
        }
        Ok(())
    }

    /// The error for a clash, naming the instance only when it is `owner`'s own.
    pub(super) fn clash(&self, owner: &str, err: ForwardError) -> AppError {
        let message = match &err {
            ForwardError::Forwarded {
                port,
                protocol,
                instance,
            } => {
                let own = self
                    .instance_owners()
                    .ok()
                    .and_then(|owners| owners.get(instance).cloned())
                    .is_some_and(|o| o == owner);
                if own {
                    err.to_string()
                } else {
                    format!("host port {port}/{protocol} is already forwarded to another instance")
                }
            }
            ForwardError::Listening { .. } => err.to_string(),
        };
        FieldError::new("listen", format!("{message}; pick another host port")).into()
    }

    /// Instance name → owner.
    fn instance_owners(&self) -> Result<HashMap<String, String>, AppError> {
        Ok(self
            .store
            .list_instances()?
            .into_iter()
            .map(|r| (r.name.to_string(), r.owner))
            .collect())
    }

    /// Forwards whose host ports a host program listens on now; only `caller`'s own unless
    /// an admin (`None`: all of them).
    pub(crate) fn shadowed_forwards(
        &self,
        listeners: &[Listener],
        caller: Option<&Principal>,
    ) -> Result<Vec<ShadowedForward>, AppError> {
        let owners = self.instance_owners()?;
        let mut out = Vec::new();
        for stored in self.store.list_forwards(None)? {
            let instance = stored.instance.to_string();
            let owner = owners
                .get(&instance)
                .map(String::as_str)
                .unwrap_or_default();
            if caller.is_some_and(|c| !c.can_read(owner)) {
                continue;
            }
            let Some(spec) = spec_of(&stored) else {
                continue;
            };
            if let Err(ForwardError::Listening { port, addr, .. }) =
                check_conflicts(&spec, &[], listeners)
            {
                let view = super::forwards::view(&stored);
                out.push(ShadowedForward {
                    instance,
                    forward: view.id,
                    listen: view.listen,
                    protocol: view.protocol,
                    host_listener: std::net::SocketAddr::new(addr, port).to_string(),
                });
            }
        }
        Ok(out)
    }

    /// Logs every forward that shadows a host service (at each rebuild of the table).
    pub(super) async fn report_shadowed(&self) {
        let listeners = tokio::task::spawn_blocking(berth_net::host_listeners)
            .await
            .unwrap_or_default();
        match self.shadowed_forwards(&listeners, None) {
            Ok(shadowed) => {
                for s in shadowed {
                    tracing::warn!(
                        instance = %s.instance,
                        forward = %s.forward,
                        listen = %s.listen,
                        protocol = %s.protocol,
                        host_listener = %s.host_listener,
                        "a forward shadows a host service started after it: the guest gets its \
                         traffic; remove the forward or move the service"
                    );
                }
            }
            Err(e) => tracing::warn!(error = %e, "cannot check forwards against host listeners"),
        }
    }
}
