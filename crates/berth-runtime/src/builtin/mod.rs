//! The builtin backend: youki's libcontainer, run from one `shim` supervisor process per guest.
//! (Being written: see the runtime helper's brief.)

use std::time::Duration;

use berth_types::{InstanceName, Limits};

use crate::{ContainerSpec, ExecResult, ExecSpec, Runtime, RuntimeError, RuntimeStatus};

pub struct BuiltinRuntime;

impl Runtime for BuiltinRuntime {
    fn name(&self) -> &'static str {
        "builtin"
    }
    fn check_usable(&self) -> Result<(), String> {
        Err("not built yet".into())
    }
    async fn start(&self, spec: &ContainerSpec) -> Result<i32, RuntimeError> {
        Err(RuntimeError::Unusable {
            backend: "builtin",
            reason: format!("cannot start {}", spec.name),
        })
    }
    async fn stop(&self, name: &InstanceName, _timeout: Duration) -> Result<(), RuntimeError> {
        Err(RuntimeError::NotRunning(name.clone()))
    }
    async fn kill(&self, name: &InstanceName) -> Result<(), RuntimeError> {
        Err(RuntimeError::NotRunning(name.clone()))
    }
    async fn freeze(&self, name: &InstanceName) -> Result<(), RuntimeError> {
        Err(RuntimeError::NotRunning(name.clone()))
    }
    async fn thaw(&self, name: &InstanceName) -> Result<(), RuntimeError> {
        Err(RuntimeError::NotRunning(name.clone()))
    }
    async fn status(&self, _name: &InstanceName) -> Result<RuntimeStatus, RuntimeError> {
        Ok(RuntimeStatus::Stopped)
    }
    async fn exec(
        &self,
        name: &InstanceName,
        _exec: &ExecSpec,
    ) -> Result<ExecResult, RuntimeError> {
        Err(RuntimeError::NotRunning(name.clone()))
    }
    async fn update_limits(
        &self,
        name: &InstanceName,
        _limits: &Limits,
    ) -> Result<(), RuntimeError> {
        Err(RuntimeError::NotRunning(name.clone()))
    }
    async fn remove(&self, _name: &InstanceName) -> Result<(), RuntimeError> {
        Ok(())
    }
}
