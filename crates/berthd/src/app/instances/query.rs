//! Reading one instance. The stored state is checked against what the backend sees, so a guest
//! that powered itself off, or one found running after a daemon restart, shows its true state.
//! The list (`list`) reads states from memory instead.

use berth_runtime::{Observation, Runtime, RuntimeStatus};
use berth_store::InstanceRecord;
use berth_types::events::{Event, Lifecycle, LifecycleAction};
use berth_types::{CacheStatus, Instance, InstanceNetwork, InstanceState};
use chrono::{DateTime, Utc};

use crate::app::access::Want;
use crate::app::error::error_chain;
use crate::app::events::DAEMON_ACTOR;
use crate::app::{App, AppError, Principal};

impl App {
    pub async fn get_instance(&self, caller: &Principal, name: &str) -> Result<Instance, AppError> {
        let record = self.instance_for(caller, name, Want::Read)?;
        Ok(self.instance_view(record).await)
    }

    async fn instance_view(&self, mut record: InstanceRecord) -> Instance {
        let Seen {
            state,
            pid,
            cache,
            location,
        } = self.observe_at(&record).await;
        record.state = state;
        if let Some(location) = &location {
            // Where it runs now (a stale read keeps the last node known).
            record.node.clone_from(&location.node);
        }
        let network = self.instance_network(&record).unwrap_or_else(|err| {
            tracing::warn!(instance = %record.name, error = %err, "cannot read addresses");
            InstanceNetwork::default()
        });
        let mut instance = record.to_api(network, pid);
        instance.vmid = location.map(|l| l.vmid);
        // Only a guest's own init on this host has a start time in /proc.
        if self.runs_here(&record) {
            instance.started_at = pid.and_then(process_started_at);
        }
        instance.cache = cache;
        if !record.privileged {
            instance.idmap = self
                .store
                .idmap_of(&record.name)
                .unwrap_or_default()
                .map(Into::into);
        }
        if matches!(state, InstanceState::Stopped | InstanceState::Error) {
            instance.state_reason = self.state_reason(&record.name);
        }
        instance.snapshots = self
            .store
            .snapshot_schedule(&record.name)
            .unwrap_or_default();
        instance.backups = self
            .store
            .backup_schedule(&record.name)
            .unwrap_or_default()
            .map(|schedule| berth_types::api::BackupSchedule { schedule });
        instance
    }

    /// The state the backend reports, saved when it differs from the stored one.
    pub(crate) async fn observed_state(&self, record: &InstanceRecord) -> InstanceState {
        self.observe(record).await.0
    }

    /// State, PID and, for remote backends, where the state came from.
    pub(super) async fn observe(
        &self,
        record: &InstanceRecord,
    ) -> (InstanceState, Option<i32>, Option<CacheStatus>) {
        let seen = self.observe_at(record).await;
        (seen.state, seen.pid, seen.cache)
    }

    /// As [`observe`](Self::observe), with where a remote guest is. A remote guest found on
    /// another node, or gone from its backend, is recorded and published (`follow`).
    pub(crate) async fn observe_at(&self, record: &InstanceRecord) -> Seen {
        let unknown = |cache| Seen {
            state: record.state,
            pid: None,
            cache,
            location: None,
        };
        let Ok(runtime) = self.runtime(&record.backend) else {
            return unknown(None);
        };
        let Observation {
            status,
            freshness,
            location,
            gone,
        } = runtime.observe(&record.name).await;
        let known = |state, pid| Seen {
            state,
            pid,
            cache: freshness,
            location: location.clone(),
        };
        let status = match status {
            // The backend does not answer: its last known state, as stored.
            Ok(_) if freshness == Some(CacheStatus::Stale) => {
                return known(record.state, None);
            }
            Ok(_) if let Some(why) = gone => {
                return known(self.notice_gone(record, why), None);
            }
            Ok(status) => status,
            Err(err) if freshness.is_some() => {
                tracing::debug!(instance = %record.name, error = %error_chain(&err), "remote state unknown; last known");
                return known(record.state, None);
            }
            Err(err) => {
                tracing::warn!(instance = %record.name, error = %error_chain(&err), "cannot read status");
                return unknown(None);
            }
        };
        if let Some(location) = &location {
            self.notice_moved(record, location);
        }
        let (seen, pid) = match status {
            RuntimeStatus::Running { pid } => (InstanceState::Running, Some(pid)),
            RuntimeStatus::Frozen { pid } => (InstanceState::Suspended, Some(pid)),
            RuntimeStatus::Stopped => (InstanceState::Stopped, None),
        };
        let state = self.settle(record, seen);
        // A remote guest's PID (0) means nothing here.
        let pid = pid.filter(|pid| *pid > 0 && state != InstanceState::Error);
        known(state, pid)
    }

    /// What to show for `record` when the backend sees `seen`; a settled instance whose state
    /// changed outside berthd is saved.
    fn settle(&self, record: &InstanceRecord, seen: InstanceState) -> InstanceState {
        if !self.settled(record) {
            return record.state;
        }
        if seen != record.state && record.state != InstanceState::Error {
            tracing::info!(instance = %record.name, stored = record.state.as_str(), seen = seen.as_str(), "state changed outside berthd");
            if let Err(err) = self.store.set_instance_state(&record.name, seen) {
                tracing::warn!(instance = %record.name, error = %error_chain(&err), "cannot save observed state");
            }
            self.publish_observed(record, seen);
        }
        if record.state == InstanceState::Error && seen == InstanceState::Stopped {
            return InstanceState::Error;
        }
        seen
    }

    /// Tells event subscribers about a state change nobody asked berthd for (the guest powered
    /// itself off, or was frozen or thawed behind berthd's back); the actor is `berthd`.
    fn publish_observed(&self, record: &InstanceRecord, seen: InstanceState) {
        let action = match seen {
            InstanceState::Running if record.state == InstanceState::Suspended => {
                LifecycleAction::InstanceResumed
            }
            InstanceState::Running => LifecycleAction::InstanceStarted,
            InstanceState::Suspended => LifecycleAction::InstanceSuspended,
            InstanceState::Stopped => LifecycleAction::InstanceStopped,
            _ => return,
        };
        let data = Lifecycle {
            action,
            actor: DAEMON_ACTOR.to_owned(),
            state: Some(seen),
            object: None,
            reason: None,
        };
        self.events
            .publish(Event::lifecycle(record.name.as_str(), &record.owner, data));
    }

    /// Reads the state of guests berthd believes running that the last metrics tick found
    /// without a cgroup or init: one that stopped on its own is recorded (and published) now,
    /// not only when someone next reads it.
    pub(crate) async fn notice_state_changes(&self, names: &[String]) {
        for name in names {
            if let Ok(record) = self.instance_record(name) {
                self.observed_state(&record).await;
            }
        }
    }
}

/// What a read of an instance found.
pub(crate) struct Seen {
    pub state: InstanceState,
    pub pid: Option<i32>,
    pub cache: Option<CacheStatus>,
    /// A remote guest's node and id, as its backend last reported them.
    pub location: Option<berth_runtime::Location>,
}

/// When process `pid` started: the boot time from `/proc/stat` plus its start time in clock
/// ticks (USER_HZ, 100 on Linux) from `/proc/<pid>/stat`.
pub(crate) fn process_started_at(pid: i32) -> Option<DateTime<Utc>> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command may hold spaces and parentheses: count fields after the last `)`.
    let ticks: i64 = stat
        .rsplit_once(')')?
        .1
        .split_whitespace()
        .nth(19)?
        .parse()
        .ok()?;
    let boot: i64 = std::fs::read_to_string("/proc/stat")
        .ok()?
        .lines()
        .find_map(|line| line.strip_prefix("btime "))?
        .trim()
        .parse()
        .ok()?;
    DateTime::from_timestamp(boot + ticks / 100, (ticks % 100) as u32 * 10_000_000)
}
