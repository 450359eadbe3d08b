//! Starting an operation: what it is (`OperationSpec`), the instance it keeps busy, its steps
//! walked in a background task, its undo log run when it fails, and its lifecycle event when
//! it succeeds.

use std::sync::Arc;

use berth_types::{InstanceName, Operation, OperationKind};
use uuid::Uuid;

use super::operation::OpHandle;
use super::steps::{Saga, Steps};
use super::undo::UndoAction;
use super::{App, AppError, events};

/// What an operation is, apart from its steps.
pub(crate) struct OperationSpec {
    pub kind: OperationKind,
    /// Whose it is: the owner of the instance it works on, or the caller.
    pub owner: String,
    /// What it acts on, as `GET /operations` shows it (an instance name, an image alias).
    pub target: String,
    /// The instance it keeps busy for its duration; a second operation on it is refused.
    pub busy: Option<InstanceName>,
    /// The request it was started with, secrets redacted.
    pub request: serde_json::Value,
    /// How to undo what was done for it before it began (a quota reservation): registered
    /// under its first step, or done at once when the operation is refused.
    pub undo: Vec<UndoAction>,
}

impl OperationSpec {
    /// An operation on `instance`, keeping it busy, owned by its owner.
    pub fn on_instance(kind: OperationKind, instance: &InstanceName, owner: &str) -> Self {
        Self {
            kind,
            owner: owner.to_owned(),
            target: instance.to_string(),
            busy: Some(instance.clone()),
            request: serde_json::Value::Null,
            undo: Vec::new(),
        }
    }

    pub fn request(mut self, request: serde_json::Value) -> Self {
        self.request = request;
        self
    }

    pub fn undo(mut self, action: UndoAction) -> Self {
        self.undo.push(action);
        self
    }
}

/// Frees an instance's busy mark when its operation ends.
pub(crate) struct BusyGuard {
    pub(super) app: Arc<App>,
    pub(super) name: InstanceName,
}

impl Drop for BusyGuard {
    fn drop(&mut self) {
        self.app.busy_lock().remove(&self.name);
    }
}

impl App {
    /// Starts `saga` as the operation `spec` in the background and returns its first view.
    pub(crate) fn spawn_saga<S: Saga + 'static>(
        self: &Arc<Self>,
        spec: OperationSpec,
        mut saga: S,
    ) -> Result<Operation, AppError> {
        // Check and mark in one critical section, so two requests cannot both pass.
        let guard = match &spec.busy {
            Some(name) => {
                let mut busy = self.busy_lock();
                if let Some(other) = busy.get(name) {
                    let refused = AppError::Conflict(format!(
                        "instance {name} is busy with operation {other}; wait for it to finish"
                    ));
                    drop(busy);
                    self.undo_now(spec.undo);
                    return Err(refused);
                }
                busy.insert(name.clone(), Uuid::nil());
                Some(BusyGuard {
                    app: self.clone(),
                    name: name.clone(),
                })
            }
            None => None,
        };
        let steps: Vec<&str> = saga.steps().iter().map(|s| s.decl().name).collect();
        let op = self
            .operations
            .begin(spec.kind, &spec.target, &spec.owner, &steps, spec.request);
        for action in spec.undo {
            op.on_undo(action);
        }
        if let Some(guard) = &guard {
            self.busy_lock().insert(guard.name.clone(), op.id());
        }
        let first_view = op.snapshot();
        let app = self.clone();
        let actor = events::actor();
        tokio::spawn(events::acting_as(actor, async move {
            let id = op.id();
            let result = super::steps::drive(&app, &mut saga, &op).await;
            if let Err(err) = &result {
                tracing::warn!(operation = %id, error = %err, "operation failed; unwinding");
                app.unwind(&op).await;
            }
            // Free before the end is seen, so a client that waited for it may go on at once.
            drop(guard);
            op.finish(&result);
            // After the operation's own end, so a client sees it succeed, then what changed.
            if result.is_ok() {
                app.publish_lifecycle_of(&op.snapshot(), &op.request());
            }
            app.operations.forget(id);
        }));
        Ok(first_view)
    }

    /// Undoes what was done for an operation that was then refused; the quota at once.
    fn undo_now(self: &Arc<Self>, undo: Vec<UndoAction>) {
        let mut later = Vec::new();
        for action in undo {
            match action {
                UndoAction::ReleaseQuota { owner, target } => self.release_quota(&owner, &target),
                other => later.push(other),
            }
        }
        if later.is_empty() {
            return;
        }
        let app = self.clone();
        tokio::spawn(async move {
            for action in later.iter().rev() {
                if let Err(err) = app.undo(action).await {
                    tracing::error!(?action, %err, "undo failed");
                }
            }
        });
    }

    /// The lifecycle event a successful operation stands for, if any: the instance's state
    /// afterwards, and the snapshot it made or restored.
    fn publish_lifecycle_of(&self, op: &Operation, request: &serde_json::Value) {
        let Some(action) = events::lifecycle_of(op.kind) else {
            return;
        };
        let state = match action {
            berth_types::events::LifecycleAction::InstanceDeleted => None,
            _ => InstanceName::parse(&op.target)
                .ok()
                .and_then(|name| self.store.get_instance(&name).ok().flatten())
                .map(|record| record.state),
        };
        let object = match op.kind {
            OperationKind::InstanceSnapshot => request["name"].as_str(),
            OperationKind::InstanceRestore => request["snapshot"].as_str(),
            _ => None,
        };
        self.events.lifecycle(
            &op.target,
            &op.owner,
            action,
            state,
            object.map(str::to_owned),
        );
    }

    /// Runs an operation's undo log, newest first, marking each step undone.
    async fn unwind(&self, op: &OpHandle) {
        for (step, action) in op.take_undo() {
            if let Err(err) = self.undo(&action).await {
                tracing::error!(operation = %op.id(), ?action, %err, "undo failed");
            }
            op.mark_undone(&step);
        }
    }
}
