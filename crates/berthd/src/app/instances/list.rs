//! The instance list, fast with thousands of instances: one read of each store table, states
//! from memory, no per-instance filesystem or `/proc` reads.
//!
//! Where the state comes from: a guest that runs on this host is watched (`guestwatch`), and
//! its death is written to the store at once, so the stored state is its state and the watched
//! init is its PID. Backends whose guests are not watched here (proxmox, sim) are asked
//! through `observe`, which answers from memory (proxmox's `/cluster/resources` cache with its
//! HIT/MISS/STALE marking, the sim's table). `GET /instances/{name}` still reads the backend.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};

use berth_types::{
    BackendName, FieldError, Instance, InstanceName, InstanceNetwork, InstanceState,
};

use crate::app::{App, AppError, Principal};

/// The most instances one page may hold.
pub const MAX_LIMIT: usize = 1000;

/// `GET /instances` query, checked: each bad value is a 400 naming its parameter.
#[derive(Debug, Default, Clone)]
pub struct ListFilter {
    /// At most this many; `None` is all.
    pub limit: Option<usize>,
    /// Only names sorting after this one (the cursor of the previous page).
    pub after: Option<InstanceName>,
    pub state: Option<InstanceState>,
    pub owner: Option<String>,
    pub backend: Option<BackendName>,
    /// `*` matches any run of characters, `?` one; without either, an exact name.
    pub name: Option<String>,
}

/// The query as it came, before it is checked.
#[derive(Debug, Default, Clone)]
pub struct RawListFilter<'a> {
    pub limit: Option<u32>,
    pub after: Option<&'a str>,
    pub state: Option<&'a str>,
    pub owner: Option<&'a str>,
    pub backend: Option<&'a str>,
    pub name: Option<&'a str>,
}

/// One page of the list; `next` is the cursor (`after=`) of the following page, if any.
#[derive(Debug)]
pub struct ListPage {
    pub instances: Vec<Instance>,
    pub next: Option<String>,
}

impl App {
    /// Checks a list query: `caller` may filter by another owner only as an admin.
    pub fn list_filter(
        &self,
        caller: &Principal,
        raw: &RawListFilter<'_>,
    ) -> Result<ListFilter, AppError> {
        let limit = match raw.limit {
            None => None,
            Some(n) if (1..=MAX_LIMIT).contains(&(n as usize)) => Some(n as usize),
            Some(n) => {
                return Err(FieldError::new(
                    "limit",
                    format!("{n} is out of range; use 1 to {MAX_LIMIT}"),
                )
                .into());
            }
        };
        let after = raw
            .after
            .map(|a| InstanceName::parse_field(a, "after"))
            .transpose()?;
        let state = raw
            .state
            .map(|s| {
                InstanceState::parse(s).ok_or_else(|| {
                    FieldError::new(
                        "state",
                        format!(
                            "{s:?} is not a state; use creating, stopped, running, suspended, error or deleting"
                        ),
                    )
                })
            })
            .transpose()?;
        if let Some(owner) = raw.owner
            && !caller.can_read(owner)
        {
            return Err(AppError::Forbidden(format!(
                "owner: only admins may list other users' instances; leave owner out or use {}",
                caller.username
            )));
        }
        let backend = raw
            .backend
            .map(|b| -> Result<BackendName, AppError> {
                let name = BackendName::parse_field(b, "backend")?;
                if self.backends().find(&name).is_none() {
                    self.runtime(&name)?; // the 400 naming the backends offered
                }
                Ok(name)
            })
            .transpose()?;
        let name = raw.name.map(check_glob).transpose()?;
        Ok(ListFilter {
            limit,
            after,
            state,
            owner: raw.owner.map(str::to_owned),
            backend,
            name,
        })
    }

    /// One page of the instances `caller` may see, sorted by name, filtered.
    pub async fn list_instances(
        &self,
        caller: &Principal,
        filter: &ListFilter,
    ) -> Result<ListPage, AppError> {
        let watched = self.watched_inits();
        let mut watched_here: HashMap<BackendName, bool> = HashMap::new();
        let mut page = Vec::new();
        let mut next = None;
        for record in self.store.list_instances()? {
            if !caller.can_read(&record.owner)
                || filter.owner.as_ref().is_some_and(|o| *o != record.owner)
                || filter
                    .backend
                    .as_ref()
                    .is_some_and(|b| *b != record.backend)
                || filter.after.as_ref().is_some_and(|a| record.name <= *a)
                || filter
                    .name
                    .as_ref()
                    .is_some_and(|g| !berth_types::name::glob_matches(g, record.name.as_str()))
            {
                continue;
            }
            let here = *watched_here
                .entry(record.backend.clone())
                .or_insert_with(|| self.runs_here(&record));
            let seen = if here {
                let pid = match record.state {
                    InstanceState::Running | InstanceState::Suspended => {
                        watched.get(&record.name).copied()
                    }
                    _ => None,
                };
                (record.state, pid, None, None)
            } else {
                let seen = self.observe_at(&record).await;
                (seen.state, seen.pid, seen.cache, seen.location)
            };
            if filter.state.is_some_and(|s| s != seen.0) {
                continue;
            }
            if filter.limit.is_some_and(|l| page.len() == l) {
                next = page
                    .last()
                    .map(|(r, _): &(berth_store::InstanceRecord, _)| r.name.to_string());
                break;
            }
            page.push((record, seen));
        }
        let instances = self.views(page, &watched)?;
        Ok(ListPage { instances, next })
    }

    /// Moves on any change to instances (every store write) or to the guests watched here:
    /// the list's `ETag`.
    pub fn instances_generation(&self) -> (u64, u64) {
        (self.store.generation(), self.watch_generation())
    }

    /// Whether some instance's state comes from a remote backend, so the generation alone
    /// cannot tell the list is unchanged.
    pub fn has_remote_backend(&self) -> bool {
        self.backends().offered().any(|(_, rt)| {
            berth_runtime::Runtime::capabilities(rt).placement == berth_runtime::Placement::Remote
        })
    }

    /// The API views of `page`, with one read of each table they draw on.
    fn views(
        &self,
        page: Vec<(berth_store::InstanceRecord, Seen)>,
        watched: &HashMap<InstanceName, i32>,
    ) -> Result<Vec<Instance>, AppError> {
        if page.is_empty() {
            return Ok(Vec::new());
        }
        let mut addresses = self.store.addresses_by_instance()?;
        let mut forwards: HashMap<InstanceName, Vec<berth_types::Forward>> = HashMap::new();
        for forward in self.store.list_forwards(None)? {
            forwards
                .entry(forward.instance.clone())
                .or_default()
                .push(crate::app::network::forwards::view(&forward));
        }
        let mut idmaps: HashMap<InstanceName, _> = self.store.all_idmaps()?.into_iter().collect();
        let mut snapshots: HashMap<InstanceName, _> = self
            .store
            .snapshot_schedules()?
            .into_iter()
            .map(|s| (s.instance, s.schedule))
            .collect();
        let mut backups: HashMap<InstanceName, _> = self
            .store
            .backup_schedules()?
            .into_iter()
            .map(|s| (s.instance, s.schedule))
            .collect();
        let reasons = self.state_reasons();
        let mut out = Vec::with_capacity(page.len());
        for (mut record, (state, pid, cache, location)) in page {
            record.state = state;
            if let Some(location) = &location {
                // Where it runs now (a stale read keeps the last node known).
                record.node.clone_from(&location.node);
            }
            let network = match addresses.remove(record.name.as_str()) {
                None => InstanceNetwork::default(),
                Some(address) => InstanceNetwork {
                    ipv4: Some(address.ipv4.to_string()),
                    ipv6: address.ipv6.map(|v6| v6.to_string()),
                    mac: Some(address.mac.to_string()),
                    forwards: forwards.remove(&record.name).unwrap_or_default(),
                },
            };
            let mut instance = record.to_api(network, pid);
            instance.started_at = pid
                .filter(|pid| watched.get(&record.name) == Some(pid))
                .and_then(|pid| self.init_started_at(pid));
            instance.cache = cache;
            instance.vmid = location.map(|l| l.vmid);
            if !record.privileged {
                instance.idmap = idmaps.remove(&record.name).map(Into::into);
            }
            if matches!(state, InstanceState::Stopped | InstanceState::Error) {
                instance.state_reason = reasons.get(&record.name).cloned();
            }
            instance.snapshots = snapshots.remove(&record.name);
            instance.backups = backups
                .remove(&record.name)
                .map(|schedule| berth_types::api::BackupSchedule { schedule });
            out.push(instance);
        }
        Ok(out)
    }
}

/// State, PID, cache marking and (for a remote guest) where it runs, as `observe_at` answers.
type Seen = (
    InstanceState,
    Option<i32>,
    Option<berth_types::CacheStatus>,
    Option<berth_runtime::Location>,
);

/// A name pattern: the characters of names plus `*` and `?`.
fn check_glob(raw: &str) -> Result<String, FieldError> {
    let ok = !raw.is_empty()
        && raw.len() <= 63
        && raw.chars().all(|c| {
            c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '*' || c == '?'
        });
    if ok {
        Ok(raw.to_owned())
    } else {
        Err(FieldError::new(
            "name",
            format!(
                "{raw:?} is not a name pattern; use lowercase letters, digits, '-', '*' (any run of characters) and '?' (one), e.g. web-*"
            ),
        ))
    }
}

/// A weak `ETag` for a list answer: the generation, and who asked what (two callers, or two
/// queries, never share one).
pub fn list_etag(generation: (u64, u64), caller: &Principal, query: &str) -> String {
    let mut hasher = std::hash::DefaultHasher::new();
    caller.username.hash(&mut hasher);
    caller.is_admin().hash(&mut hasher);
    query.hash(&mut hasher);
    format!(
        "W/\"{}.{}.{:016x}\"",
        generation.0,
        generation.1,
        hasher.finish()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_patterns_name_the_parameter() {
        let err = check_glob("Web/*")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("name pattern"), "{err}");
        assert!(check_glob("web-?*").is_ok());
    }
}
