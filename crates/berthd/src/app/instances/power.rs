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
use crate::app::operation::OpError;
use crate::app::steps::{Finished, Pending, StepDecl, Steps, declare_steps};
use crate::app::undo::UndoAction;
use crate::app::{App, AppError, OperationSpec};

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

    /// The steps its operation walks.
    fn steps(self) -> &'static [PowerStep] {
        match self {
            Self::Start => &[PowerStep::Start],
            Self::Stop => &[PowerStep::Stop],
            Self::Restart => &[PowerStep::Stop, PowerStep::Start],
            Self::Suspend => &[PowerStep::Freeze],
            Self::Resume => &[PowerStep::Thaw],
        }
    }

    /// Its operation's steps as declared.
    pub(crate) fn declared(self) -> Vec<StepDecl> {
        self.steps().iter().map(|s| s.decl()).collect()
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

/// A power operation: the instance, the state it was in, the verb and its options.
pub(crate) struct Power {
    record: InstanceRecord,
    from: InstanceState,
    action: PowerAction,
    request: PowerRequest,
}

declare_steps! {
    /// The steps of the power operations (`PowerAction::steps` picks each one's). Each may be
    /// an operation's first, so each lists the stored state put back when it fails.
    pub enum PowerStep for Power where steps = walk {
        /// A clean shutdown with a timeout (a kill when forced).
        Stop = "stop" => stop, undo [RestoreState];
        /// Plug it in and boot it.
        Start = "start" => start, undo [RestoreState];
        /// Freeze every process (cgroup freezer).
        Freeze = "freeze" => freeze, undo [RestoreState];
        /// Thaw it.
        Thaw = "thaw" => thaw, undo [RestoreState];
    }
}

impl Power {
    fn walk(&self) -> &'static [PowerStep] {
        self.action.steps()
    }

    async fn stop(&mut self, app: &App, step: Pending<'_>) -> Result<Finished, OpError> {
        let name = self.record.name.clone();
        let step = step.begin(format!("stopping {name}")).await?;
        let runtime = app
            .runtime(&self.record.backend)
            .map_err(|e| OpError::failed("backend", e))?;
        app.halt(runtime, &self.record, self.from, &self.request)
            .await
            .map_err(|e| OpError::Failed(format!("stopping {name}: {}", error_chain(&e))))?;
        self.settled(app, InstanceState::Stopped)?;
        Ok(step.done())
    }

    async fn start(&mut self, app: &App, step: Pending<'_>) -> Result<Finished, OpError> {
        let name = self.record.name.clone();
        let step = step.begin(format!("starting {name}")).await?;
        app.boot(&self.record)
            .await
            .map_err(|e| OpError::failed(&format!("starting {name}"), e))?;
        self.settled(app, InstanceState::Running)?;
        Ok(step.done())
    }

    async fn freeze(&mut self, app: &App, step: Pending<'_>) -> Result<Finished, OpError> {
        let name = self.record.name.clone();
        let step = step.begin(format!("freezing {name}")).await?;
        let runtime = app
            .runtime(&self.record.backend)
            .map_err(|e| OpError::failed("backend", e))?;
        runtime
            .freeze(&name)
            .await
            .map_err(|e| OpError::Failed(format!("freezing {name}: {}", error_chain(&e))))?;
        self.settled(app, InstanceState::Suspended)?;
        Ok(step.done())
    }

    async fn thaw(&mut self, app: &App, step: Pending<'_>) -> Result<Finished, OpError> {
        let name = self.record.name.clone();
        let step = step.begin(format!("thawing {name}")).await?;
        let runtime = app
            .runtime(&self.record.backend)
            .map_err(|e| OpError::failed("backend", e))?;
        runtime
            .thaw(&name)
            .await
            .map_err(|e| OpError::Failed(format!("thawing {name}: {}", error_chain(&e))))?;
        self.settled(app, InstanceState::Running)?;
        Ok(step.done())
    }

    /// Saves the state a step left the guest in.
    fn settled(&mut self, app: &App, state: InstanceState) -> Result<(), OpError> {
        self.record.state = state;
        app.store
            .update_instance(&self.record)
            .map_err(|e| OpError::failed("saving", e))?;
        tracing::info!(instance = %self.record.name, verb = self.action.verb(), state = state.as_str(), "power");
        Ok(())
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
        let spec = OperationSpec::on_instance(action.kind(), &record.name, &record.owner)
            .request(params)
            .undo(UndoAction::RestoreState {
                name: record.name.clone(),
                state,
            });
        let power = Power {
            record,
            from: state,
            action,
            request,
        };
        self.spawn_saga(spec, power)
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
