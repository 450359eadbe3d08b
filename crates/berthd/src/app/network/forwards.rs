//! Port forwards of an instance (`/instances/{name}/forwards`): validated, checked against
//! every other forward and the host's own listeners under one lock, stored, then applied by
//! rebuilding the nftables table.

use berth_net::{ForwardSpec, check_conflicts, host_listeners};
use berth_store::ForwardRecord;
use berth_types::api::CreateForwardRequest;
use berth_types::events::LifecycleAction;
use berth_types::{FieldError, Forward, InstanceName};
use chrono::Utc;
use uuid::Uuid;

use super::firewall::spec_of;
use crate::app::Principal;
use crate::app::access::Want;
use crate::app::error::error_chain;
use crate::app::quota::forward_target;
use crate::app::{App, AppError};

impl App {
    pub fn list_forwards(&self, caller: &Principal, name: &str) -> Result<Vec<Forward>, AppError> {
        let record = self.instance_for(caller, name, Want::Read)?;
        self.forward_views(Some(&record.name))
    }

    /// Adds a forward to `name`; a clash with another forward or a host listener is refused
    /// and nothing changes.
    pub async fn add_forward(
        &self,
        caller: &Principal,
        name: &str,
        request: CreateForwardRequest,
    ) -> Result<Forward, AppError> {
        let record = self.instance_for(caller, name, Want::Write)?;
        let spec = parse_request(&request)?;
        self.check_forward_policy(caller, &record.owner, &spec)?;
        if self.store.addresses_of(&record.name)?.is_none() {
            return Err(AppError::Conflict(format!(
                "instance {name} has no address yet; wait for its creation to finish"
            )));
        }
        let stored = {
            let _guard = self.forwards_lock.lock().await;
            let existing: Vec<berth_net::Forward> = self
                .store
                .list_forwards(None)?
                .iter()
                .filter_map(|f| {
                    Some(berth_net::Forward {
                        instance: f.instance.to_string(),
                        spec: spec_of(f)?,
                        guest4: std::net::Ipv4Addr::UNSPECIFIED,
                        guest6: None,
                    })
                })
                .collect();
            let listeners = tokio::task::spawn_blocking(host_listeners)
                .await
                .map_err(|e| AppError::internal("reading host listeners", e))?;
            check_conflicts(&spec, &existing, &listeners)
                .map_err(|e| self.clash(&record.owner, e))?;
            let id = Uuid::new_v4();
            self.reserve_forward(&record.owner, record.id, id, (spec.start, spec.end))?;
            let stored = ForwardRecord {
                id,
                instance: record.name.clone(),
                listen: spec.listen.map(|a| a.to_string()),
                host_start: spec.start,
                host_end: spec.end,
                guest_port: spec.guest_port,
                protocol: spec.protocol.as_str().to_owned(),
                created_at: Utc::now(),
            };
            if let Err(e) = self.store.insert_forward(&stored) {
                self.release_quota(&record.owner, &forward_target(record.id, id));
                return Err(e.into());
            }
            stored
        };
        if let Err(err) = self.rebuild_firewall().await {
            // Leave the host as it was: forget the forward and put the old table back.
            let _ = self.store.delete_forward(stored.id);
            self.release_quota(&record.owner, &forward_target(record.id, stored.id));
            let _ = self.rebuild_firewall().await;
            return Err(AppError::internal(
                "applying the forward",
                error_chain(&err),
            ));
        }
        tracing::info!(instance = %record.name, forward = %stored.id, "forward added");
        self.events.lifecycle(
            record.name.as_str(),
            &record.owner,
            LifecycleAction::ForwardAdded,
            Some(record.state),
            Some(stored.id.to_string()),
        );
        Ok(view(&stored))
    }

    pub async fn remove_forward(
        &self,
        caller: &Principal,
        name: &str,
        id: &str,
    ) -> Result<(), AppError> {
        let record = self.instance_for(caller, name, Want::Write)?;
        let missing = || AppError::NotFound(format!("forward {id} of instance {name}"));
        let id = Uuid::parse_str(id).map_err(|_| missing())?;
        match self.store.get_forward(id)? {
            Some(f) if f.instance == record.name => {}
            _ => return Err(missing()),
        }
        self.store.delete_forward(id)?;
        self.release_quota(&record.owner, &forward_target(record.id, id));
        self.rebuild_firewall()
            .await
            .map_err(|e| AppError::internal("removing the forward", error_chain(&e)))?;
        tracing::info!(instance = %record.name, forward = %id, "forward removed");
        self.events.lifecycle(
            record.name.as_str(),
            &record.owner,
            LifecycleAction::ForwardRemoved,
            Some(record.state),
            Some(id.to_string()),
        );
        Ok(())
    }

    pub(crate) fn forward_views(
        &self,
        instance: Option<&InstanceName>,
    ) -> Result<Vec<Forward>, AppError> {
        Ok(self
            .store
            .list_forwards(instance)?
            .iter()
            .map(view)
            .collect())
    }
}

fn parse_request(request: &CreateForwardRequest) -> Result<ForwardSpec, AppError> {
    if request.port == 0 {
        return Err(FieldError::new("port", "0 is not a port; use 1-65535").into());
    }
    let protocol = match request.protocol.as_deref() {
        None | Some("tcp") => "tcp",
        Some("udp") => "udp",
        Some(other) => {
            return Err(FieldError::new(
                "protocol",
                format!("{other:?} is not a protocol; use tcp or udp"),
            )
            .into());
        }
    };
    let raw = format!("{}:{}/{protocol}", request.listen, request.port);
    Ok(ForwardSpec::parse_field(&raw, "listen")?)
}

/// The API view: `listen` is `ADDR:PORT[-END]`, `0.0.0.0` standing for every address.
pub(crate) fn view(stored: &ForwardRecord) -> Forward {
    let ports = if stored.host_start == stored.host_end {
        stored.host_start.to_string()
    } else {
        format!("{}-{}", stored.host_start, stored.host_end)
    };
    let listen = match stored.listen.as_deref() {
        None => format!("0.0.0.0:{ports}"),
        Some(addr) if addr.contains(':') => format!("[{addr}]:{ports}"),
        Some(addr) => format!("{addr}:{ports}"),
    };
    Forward {
        id: stored.id.to_string(),
        listen,
        port: stored.guest_port,
        protocol: stored.protocol.clone(),
    }
}
