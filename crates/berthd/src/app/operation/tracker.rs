//! The operations live in this daemon: begun (persisted as pending), watched by `wait`,
//! cancelled, forgotten when they end (their rows stay in the store).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use berth_store::Store;
use berth_types::{Operation, OperationKind, OperationStatus, OperationStep, StepStatus};
use chrono::Utc;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::{OpHandle, OpParams, OpState};
use crate::app::events::EventBus;
use crate::app::failpoint::Failpoints;

/// Live operations of this daemon, for `wait` and `cancel`.
pub struct OperationTracker {
    store: Arc<Store>,
    failpoints: Arc<Failpoints>,
    events: Arc<EventBus>,
    live: Mutex<HashMap<Uuid, (watch::Receiver<Operation>, CancellationToken)>>,
}

impl OperationTracker {
    pub fn new(store: Arc<Store>, failpoints: Failpoints, events: Arc<EventBus>) -> Self {
        Self {
            store,
            failpoints: Arc::new(failpoints),
            events,
            live: Mutex::default(),
        }
    }

    /// Creates and persists a pending operation with the given steps.
    pub fn begin(
        &self,
        kind: OperationKind,
        target: &str,
        owner: &str,
        steps: &[&str],
        request: serde_json::Value,
    ) -> OpHandle {
        let now = Utc::now();
        let operation = Operation {
            id: Uuid::new_v4(),
            kind,
            target: target.to_owned(),
            status: OperationStatus::Pending,
            progress: 0,
            message: "queued".into(),
            steps: steps
                .iter()
                .map(|name| OperationStep {
                    name: (*name).to_owned(),
                    status: StepStatus::Pending,
                    message: String::new(),
                    started_at: None,
                    finished_at: None,
                })
                .collect(),
            error: None,
            cancellable: false,
            owner: owner.to_owned(),
            created_at: now,
            updated_at: now,
        };
        let (tx, rx) = watch::channel(operation.clone());
        let cancel = CancellationToken::new();
        self.lock().insert(operation.id, (rx, cancel.clone()));
        let handle = OpHandle {
            store: self.store.clone(),
            state: Arc::new(Mutex::new(OpState {
                operation,
                params: OpParams {
                    request,
                    undo: Vec::new(),
                },
                partial: 0,
            })),
            tx: Arc::new(tx),
            cancel,
            failpoints: self.failpoints.clone(),
            events: self.events.clone(),
        };
        // Persisted and published as it begins (pending).
        handle.update(|_| {});
        handle
            .events
            .publish(berth_types::events::Event::operation(&handle.snapshot()));
        handle
    }

    fn lock(
        &self,
    ) -> std::sync::MutexGuard<'_, HashMap<Uuid, (watch::Receiver<Operation>, CancellationToken)>>
    {
        self.live
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// A receiver for a live operation, if it runs in this daemon.
    pub fn watch(&self, id: Uuid) -> Option<watch::Receiver<Operation>> {
        self.lock().get(&id).map(|(rx, _)| rx.clone())
    }

    /// Requests cancellation; `false` when the operation is not live here.
    pub fn cancel(&self, id: Uuid) -> bool {
        self.lock()
            .get(&id)
            .map(|(_, cancel)| cancel.cancel())
            .is_some()
    }

    /// Forgets a finished operation (its row stays in the store).
    pub fn forget(&self, id: Uuid) {
        self.lock().remove(&id);
    }
}
