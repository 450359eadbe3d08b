//! The operation engine: every long action runs as a persisted operation made of the steps its
//! declaration names (`steps`). Each step registers its undo *before* it acts (undos are
//! idempotent), so a failure, a cancellation or a daemon crash at any step can be unwound to
//! leave nothing half-made.

use std::sync::{Arc, Mutex};

use berth_store::{OperationRecord, Store};
use berth_types::{Operation, OperationStatus, OperationStep, StepStatus};
use chrono::Utc;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::events::EventBus;
use super::failpoint::{FailAction, Failpoints};
use super::undo::UndoAction;

mod params;
mod tracker;

pub use params::OpParams;
pub use tracker::OperationTracker;

/// Why an operation stopped short.
#[derive(Debug, thiserror::Error)]
pub enum OpError {
    #[error("cancelled")]
    Cancelled,
    #[error("{0}")]
    Failed(String),
}

impl OpError {
    /// `err` (with its causes) while doing `context`: the operation's error as users read it.
    pub fn failed(context: &str, err: impl std::error::Error) -> Self {
        Self::Failed(format!("{context}: {}", super::error::error_chain(&err)))
    }
}

struct OpState {
    operation: Operation,
    params: OpParams,
    /// How far the running step is, 0–100, when it reports that (a remote task's log).
    partial: u8,
}

/// The running side of one operation, shared by the task that does the work.
#[derive(Clone)]
pub struct OpHandle {
    store: Arc<Store>,
    state: Arc<Mutex<OpState>>,
    tx: Arc<watch::Sender<Operation>>,
    cancel: CancellationToken,
    failpoints: Arc<Failpoints>,
    events: Arc<EventBus>,
}

impl OpHandle {
    pub fn id(&self) -> Uuid {
        self.snapshot().id
    }

    pub fn snapshot(&self) -> Operation {
        self.lock().operation.clone()
    }

    /// The request it was started with (secrets redacted).
    pub fn request(&self) -> serde_json::Value {
        self.lock().params.request.clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, OpState> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Applies `change`, recomputes progress, persists and notifies waiters; a change anyone
    /// can see (not an undo registration) is also published as an `operation` event.
    fn update(&self, change: impl FnOnce(&mut OpState)) {
        let (record, operation, visible) = {
            let mut state = self.lock();
            let mut before = state.operation.clone();
            change(&mut state);
            let partial = state.partial;
            let op = &mut state.operation;
            op.updated_at = Utc::now();
            if !op.status.is_final() {
                op.progress = progress(&op.steps, partial);
            }
            before.updated_at = op.updated_at;
            let visible = before != *op;
            let operation = state.operation.clone();
            (
                OperationRecord {
                    operation: operation.clone(),
                    params: params_json(&state.params),
                },
                operation,
                visible,
            )
        };
        if let Err(err) = self.store.save_operation(&record) {
            tracing::error!(operation = %operation.id, error = %super::error::error_chain(&err), "cannot persist operation");
        }
        if visible {
            self.events
                .publish(berth_types::events::Event::operation(&operation));
        }
        self.tx.send_replace(operation);
    }

    /// Ends the running step as done and starts step `name` with `message`. Fails when the
    /// operation was cancelled or a failpoint is set on `<kind>.<step>`.
    pub(super) async fn enter(&self, name: &str, message: String) -> Result<(), OpError> {
        let point = self.update_returning(|state| {
            state.partial = 0;
            let op = &mut state.operation;
            let now = Utc::now();
            for step in op
                .steps
                .iter_mut()
                .filter(|s| s.status == StepStatus::Running)
            {
                step.status = StepStatus::Done;
                step.finished_at = Some(now);
            }
            op.status = OperationStatus::Running;
            op.message = message.clone();
            let step = op.steps.iter_mut().find(|s| s.name == name);
            step.map(|step| {
                step.status = StepStatus::Running;
                step.started_at = Some(now);
                step.message = message.clone();
                format!("{}.{}", op.kind.as_str(), step.name)
            })
        });
        tracing::info!(operation = %self.id(), step = name, %message, "step");
        if self.cancel.is_cancelled() {
            return Err(OpError::Cancelled);
        }
        match point.and_then(|p| self.failpoints.get(&p).map(|a| (p, a))) {
            Some((point, FailAction::Error)) => Err(OpError::Failed(format!("failpoint {point}"))),
            Some((point, FailAction::Pause)) => {
                tracing::warn!(%point, "paused at failpoint");
                std::future::pending::<()>().await;
                Err(OpError::Failed(format!("failpoint {point}")))
            }
            None => Ok(()),
        }
    }

    fn update_returning<T>(&self, change: impl FnOnce(&mut OpState) -> T) -> T {
        let mut out = None;
        self.update(|state| out = Some(change(state)));
        out.unwrap_or_else(|| unreachable!("update always runs its closure"))
    }

    /// Marks step `name` as not applying here.
    pub(super) fn skip(&self, name: &str, message: impl Into<String>) {
        let message = message.into();
        self.update(|state| {
            if let Some(step) = state.operation.steps.iter_mut().find(|s| s.name == name) {
                step.status = StepStatus::Skipped;
                step.message = message;
            }
        });
    }

    /// Reports how far the running step is (0–100) with its current message.
    pub fn step_progress(&self, percent: u8, message: impl Into<String>) {
        let message = message.into();
        self.update(|state| {
            state.partial = percent.min(100);
            let op = &mut state.operation;
            op.message = message.clone();
            if let Some(step) = op
                .steps
                .iter_mut()
                .find(|s| s.status == StepStatus::Running)
            {
                step.message = message;
            }
        });
    }

    /// Replaces the running step's message, e.g. `installing packages (3/6)`.
    pub fn message(&self, message: impl Into<String>) {
        let message = message.into();
        self.update(|state| {
            let op = &mut state.operation;
            op.message = message.clone();
            if let Some(step) = op
                .steps
                .iter_mut()
                .find(|s| s.status == StepStatus::Running)
            {
                step.message = message;
            }
        });
    }

    /// Registers how to undo what the current step (before any: the first) is about to do.
    /// Persisted at once.
    pub(super) fn on_undo(&self, action: UndoAction) {
        self.update(|state| {
            let steps = &state.operation.steps;
            let step = steps
                .iter()
                .find(|s| s.status == StepStatus::Running)
                .or(steps.first())
                .map(|s| s.name.clone())
                .unwrap_or_default();
            state.params.undo.push((step, action));
        });
    }

    pub fn set_cancellable(&self, cancellable: bool) {
        self.update(|state| state.operation.cancellable = cancellable);
    }

    /// Runs `work` unless the operation is cancelled first.
    pub async fn cancellable<T>(
        &self,
        work: impl Future<Output = Result<T, OpError>>,
    ) -> Result<T, OpError> {
        self.set_cancellable(true);
        let result = tokio::select! {
            result = work => result,
            () = self.cancel.cancelled() => Err(OpError::Cancelled),
        };
        self.set_cancellable(false);
        result
    }

    /// The undo log, newest first, emptied.
    pub fn take_undo(&self) -> Vec<(String, UndoAction)> {
        let mut undo = Vec::new();
        self.update(|state| undo = std::mem::take(&mut state.params.undo));
        undo.reverse();
        undo
    }

    pub fn mark_undone(&self, name: &str) {
        self.update(|state| mark_undone(&mut state.operation.steps, name));
    }

    /// Ends the operation with `result`.
    pub fn finish(&self, result: &Result<(), OpError>) {
        self.update(|state| {
            let op = &mut state.operation;
            let now = Utc::now();
            op.cancellable = false;
            match result {
                Ok(()) => {
                    op.status = OperationStatus::Success;
                    op.progress = 100;
                    op.message = "done".into();
                }
                Err(OpError::Cancelled) => {
                    op.status = OperationStatus::Cancelled;
                    op.error = Some("cancelled".into());
                }
                Err(OpError::Failed(reason)) => {
                    op.status = OperationStatus::Failure;
                    op.error = Some(reason.clone());
                }
            }
            for step in op.steps.iter_mut() {
                if step.status == StepStatus::Running {
                    step.status = if result.is_ok() {
                        StepStatus::Done
                    } else {
                        StepStatus::Failed
                    };
                    step.finished_at = Some(now);
                }
            }
        });
    }
}

/// Marks step `name` undone, if it had been done.
pub(super) fn mark_undone(steps: &mut [OperationStep], name: &str) {
    if let Some(step) = steps
        .iter_mut()
        .find(|s| s.name == name && s.status == StepStatus::Done)
    {
        step.status = StepStatus::Undone;
    }
}

fn params_json(params: &OpParams) -> serde_json::Value {
    serde_json::to_value(params).unwrap_or(serde_json::Value::Null)
}

/// Done steps count whole, the running one by `partial` percent.
fn progress(steps: &[OperationStep], partial: u8) -> u8 {
    if steps.is_empty() {
        return 0;
    }
    let done = steps
        .iter()
        .filter(|s| matches!(s.status, StepStatus::Done | StepStatus::Skipped))
        .count();
    let running = steps.iter().any(|s| s.status == StepStatus::Running);
    let partial = if running {
        usize::from(partial.min(100))
    } else {
        0
    };
    ((done * 100 + partial) / steps.len()).min(99) as u8
}
