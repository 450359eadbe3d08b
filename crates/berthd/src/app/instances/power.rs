//! Power actions: start, stop, restart, suspend, resume — each an operation.

use std::sync::Arc;
use std::time::Duration;

use berth_runtime::Runtime;
use berth_store::InstanceRecord;
use berth_types::api::PowerRequest;
use berth_types::{InstanceState, Operation, OperationKind};

use super::DEFAULT_STOP_TIMEOUT;
use crate::app::Principal;
use crate::app::access::Want;
use crate::app::error::error_chain;
use crate::app::operation::{OpError, OpHandle};
use crate::app::undo::UndoAction;
use crate::app::{App, AppError};

/// The power verbs of `POST /instances/{name}/{verb}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PowerAction {
    Start,
    Stop,
    Restart,
    Suspend,
    Resume,
}

impl PowerAction {
    fn kind(self) -> OperationKind {
        match self {
            Self::Start => OperationKind::InstanceStart,
            Self::Stop => OperationKind::InstanceStop,
            Self::Restart => OperationKind::InstanceRestart,
            Self::Suspend => OperationKind::InstanceSuspend,
            Self::Resume => OperationKind::InstanceResume,
        }
    }

    fn steps(self) -> &'static [&'static str] {
        match self {
            Self::Start => &["start"],
            Self::Stop => &["stop"],
            Self::Restart => &["stop", "start"],
            Self::Suspend => &["freeze"],
            Self::Resume => &["thaw"],
        }
    }

    /// The states this action may start from.
    fn allowed_from(self) -> &'static [InstanceState] {
        match self {
            Self::Start => &[InstanceState::Stopped, InstanceState::Error],
            Self::Stop => &[
                InstanceState::Running,
                InstanceState::Suspended,
                InstanceState::Error,
            ],
            Self::Restart => &[InstanceState::Running, InstanceState::Suspended],
            Self::Suspend => &[InstanceState::Running],
            Self::Resume => &[InstanceState::Suspended],
        }
    }

    pub fn verb(self) -> &'static str {
        match self {
            Self::Start => "start",
            Self::Stop => "stop",
            Self::Restart => "restart",
            Self::Suspend => "suspend",
            Self::Resume => "resume",
        }
    }
}

impl App {
    pub async fn power_instance(
        self: &Arc<Self>,
        caller: &Principal,
        name: &str,
        action: PowerAction,
        request: PowerRequest,
    ) -> Result<Operation, AppError> {
        let record = self.instance_for(caller, name, Want::Write)?;
        self.ensure_writable(&record.backend).await?;
        let state = self.observed_state(&record).await;
        if !action.allowed_from().contains(&state) {
            return Err(AppError::Conflict(format!(
                "cannot {} instance {name}: it is {}",
                action.verb(),
                state.as_str()
            )));
        }
        let params = serde_json::to_value(&request).unwrap_or_default();
        let target = record.name.clone();
        self.spawn_operation(
            &record.owner.clone(),
            action.kind(),
            name,
            Some(&target),
            action.steps(),
            params,
            move |app, op| async move { app.run_power(&op, record, state, action, request).await },
        )
    }

    async fn run_power(
        &self,
        op: &OpHandle,
        mut record: InstanceRecord,
        from: InstanceState,
        action: PowerAction,
        request: PowerRequest,
    ) -> Result<(), OpError> {
        let name = record.name.clone();
        let runtime = self
            .runtime(&record.backend)
            .map_err(|e| OpError::failed("backend", e))?;
        let failed = |what: &str, e: berth_runtime::RuntimeError| {
            OpError::Failed(format!("{what} {name}: {}", error_chain(&e)))
        };
        op.on_undo(UndoAction::RestoreState {
            name: name.clone(),
            state: from,
        });
        match action {
            PowerAction::Start => {
                op.step(0, format!("starting {name}")).await?;
                self.boot(&record)
                    .await
                    .map_err(|e| OpError::Failed(format!("starting {name}: {e}")))?;
                record.state = InstanceState::Running;
            }
            PowerAction::Stop | PowerAction::Restart => {
                op.step(0, format!("stopping {name}")).await?;
                self.halt(runtime, &record, from, &request)
                    .await
                    .map_err(|e| failed("stopping", e))?;
                record.state = InstanceState::Stopped;
                self.store
                    .update_instance(&record)
                    .map_err(|e| OpError::failed("saving", e))?;
                if action == PowerAction::Restart {
                    op.step(1, format!("starting {name}")).await?;
                    self.boot(&record)
                        .await
                        .map_err(|e| OpError::Failed(format!("starting {name}: {e}")))?;
                    record.state = InstanceState::Running;
                }
            }
            PowerAction::Suspend => {
                op.step(0, format!("freezing {name}")).await?;
                runtime
                    .freeze(&name)
                    .await
                    .map_err(|e| failed("freezing", e))?;
                record.state = InstanceState::Suspended;
            }
            PowerAction::Resume => {
                op.step(0, format!("thawing {name}")).await?;
                runtime
                    .thaw(&name)
                    .await
                    .map_err(|e| failed("thawing", e))?;
                record.state = InstanceState::Running;
            }
        }
        self.store
            .update_instance(&record)
            .map_err(|e| OpError::failed("saving", e))?;
        tracing::info!(instance = %name, operation = %op.id(), state = record.state.as_str(), "power");
        Ok(())
    }

    /// Brings a guest down: thaws a frozen one first (a frozen init cannot shut down), then a
    /// clean shutdown with a timeout, or a kill when forced.
    pub(crate) async fn halt(
        &self,
        runtime: &berth_runtime::AnyRuntime,
        record: &InstanceRecord,
        from: InstanceState,
        request: &PowerRequest,
    ) -> Result<(), berth_runtime::RuntimeError> {
        if from == InstanceState::Suspended {
            runtime.thaw(&record.name).await?;
        }
        if request.force {
            runtime.kill(&record.name).await
        } else {
            let timeout = Duration::from_secs(request.timeout.unwrap_or(DEFAULT_STOP_TIMEOUT));
            runtime.stop(&record.name, timeout).await
        }
    }
}
