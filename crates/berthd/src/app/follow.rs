//! Following remote backends (`Runtime::poll_interval`): every interval the backend re-reads
//! the state of all its guests (PVE's `/cluster/resources`) in the background, and each of
//! its instances is observed from that read — so a container stopped in the PVE UI, migrated
//! to another node or deleted there is recorded and published as a lifecycle event (actor
//! `berthd`) without anyone reading it. Reads never wait for this.

use std::sync::Arc;

use berth_runtime::{Location, Runtime};
use berth_store::InstanceRecord;
use berth_types::events::{Event, Lifecycle, LifecycleAction};
use berth_types::{BackendName, InstanceState};

use crate::app::App;
use crate::app::error::error_chain;
use crate::app::events::DAEMON_ACTOR;

impl App {
    /// One follower task per backend that asks to be followed.
    pub(crate) fn spawn_remote_followers(self: &Arc<Self>) {
        let followed: Vec<(BackendName, std::time::Duration)> = self
            .backends
            .offered()
            .filter_map(|(name, runtime)| Some((name.clone(), runtime.poll_interval()?)))
            .collect();
        for (backend, every) in followed {
            tracing::info!(%backend, every_ms = every.as_millis() as u64, "following remote backend");
            self.spawn_every(every, move |app| {
                let backend = backend.clone();
                async move { app.follow_backend(&backend).await }
            });
        }
    }

    /// Re-reads `backend` once and observes each of its instances from that read.
    async fn follow_backend(&self, backend: &BackendName) {
        let Some(runtime) = self.backends.find(backend) else {
            return;
        };
        if let Err(err) = runtime.poll().await {
            tracing::debug!(%backend, error = %error_chain(&err), "remote backend not answering");
            return;
        }
        self.clean_leftovers(backend, runtime).await;
        let records = match self.store.list_instances() {
            Ok(records) => records,
            Err(err) => {
                tracing::warn!(error = %error_chain(&err), "cannot list instances to follow");
                return;
            }
        };
        for record in records.into_iter().filter(|r| &r.backend == backend) {
            self.observed_state(&record).await;
        }
    }

    /// Whether berthd may record what it sees of `record` now: settled, and no operation
    /// of berthd's own running on it.
    pub(crate) fn settled(&self, record: &InstanceRecord) -> bool {
        matches!(
            record.state,
            InstanceState::Running
                | InstanceState::Stopped
                | InstanceState::Suspended
                | InstanceState::Error
        ) && !self.busy_lock().contains_key(&record.name)
    }

    /// A remote guest found on another node than recorded: the node is saved and an
    /// `instance-migrated` event published.
    pub(crate) fn notice_moved(&self, record: &InstanceRecord, location: &Location) {
        if location.node == record.node || !self.settled(record) {
            return;
        }
        let reason = format!(
            "moved from node {} to node {} outside Berth (CT {})",
            record.node, location.node, location.vmid
        );
        tracing::info!(instance = %record.name, %reason, "remote guest moved");
        if let Err(err) = self.store.set_instance_node(&record.name, &location.node) {
            tracing::warn!(instance = %record.name, error = %error_chain(&err), "cannot save the new node");
            return;
        }
        let data = Lifecycle {
            action: LifecycleAction::InstanceMigrated,
            actor: DAEMON_ACTOR.to_owned(),
            state: Some(record.state),
            object: Some(location.node.clone()),
            reason: Some(reason),
        };
        self.events
            .publish(Event::lifecycle(record.name.as_str(), &record.owner, data));
    }

    /// A remote guest the backend no longer holds: the instance is in error with `why` as its
    /// state reason, and an `instance-stopped` event (state `error`) says so. Returns the state
    /// to show.
    pub(crate) fn notice_gone(&self, record: &InstanceRecord, why: String) -> InstanceState {
        if !self.settled(record) {
            return record.state;
        }
        if record.state == InstanceState::Error {
            // Already recorded (perhaps before a restart of berthd, which forgets reasons).
            self.set_state_reason(&record.name, Some(why));
            return InstanceState::Error;
        }
        tracing::warn!(instance = %record.name, reason = %why, "remote guest gone");
        if let Err(err) = self
            .store
            .set_instance_state(&record.name, InstanceState::Error)
        {
            tracing::warn!(instance = %record.name, error = %error_chain(&err), "cannot save observed state");
        }
        self.set_state_reason(&record.name, Some(why.clone()));
        let data = Lifecycle {
            action: LifecycleAction::InstanceStopped,
            actor: DAEMON_ACTOR.to_owned(),
            state: Some(InstanceState::Error),
            object: None,
            reason: Some(why),
        };
        self.events
            .publish(Event::lifecycle(record.name.as_str(), &record.owner, data));
        InstanceState::Error
    }
}
