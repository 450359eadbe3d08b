//! Remote backends (proxmox): instances whose root filesystem, processes and state live on a
//! Proxmox VE cluster. Creation goes through PVE's own template path instead of the local
//! image/clone/configure steps; writes are refused with 503 while PVE does not answer; reads
//! carry where their state came from (`X-Cache-Status`).

use berth_runtime::RuntimeError;
use berth_runtime::proxmox::{ProxmoxRuntime, RemoteCreate};
use berth_store::InstanceRecord;
use berth_types::{CacheStatus, ImageRef, InstanceState};

use super::error::error_chain;
use super::instances::RootCredentials;
use super::operation::{OpError, OpHandle};
use super::undo::UndoAction;
use super::{App, AppError};

/// Whether `backend` keeps its instances on another machine.
pub(crate) fn is_remote(backend: &str) -> bool {
    backend == "proxmox"
}

impl App {
    /// The proxmox runtime behind `backend`, when it is one.
    pub(crate) fn remote(&self, backend: &str) -> Option<&ProxmoxRuntime> {
        match self.runtimes.get(backend) {
            Some(berth_runtime::AnyRuntime::Proxmox(runtime)) => Some(runtime),
            _ => None,
        }
    }

    /// Refuses a write (503 `backend_unavailable`) while a remote backend does not answer, so
    /// nothing is started that cannot finish.
    pub(crate) async fn ensure_writable(&self, backend: &str) -> Result<(), AppError> {
        let Some(runtime) = self.remote(backend) else {
            return Ok(());
        };
        runtime.probe().await.map_err(|err| match err {
            RuntimeError::Unreachable { .. } => AppError::BackendUnavailable(err.to_string()),
            other => AppError::Unavailable(error_chain(&other)),
        })
    }

    /// The state of a remote instance and where it came from; the stored state, marked stale,
    /// while the backend does not answer.
    pub(crate) async fn observe_remote(
        &self,
        runtime: &ProxmoxRuntime,
        record: &InstanceRecord,
    ) -> (Option<InstanceState>, CacheStatus) {
        let (status, cache) = runtime.status_with_cache(&record.name).await;
        match status {
            Ok(berth_runtime::RuntimeStatus::Running { .. }) => {
                (Some(InstanceState::Running), cache)
            }
            Ok(berth_runtime::RuntimeStatus::Frozen { .. }) => {
                (Some(InstanceState::Suspended), cache)
            }
            Ok(berth_runtime::RuntimeStatus::Stopped) => (Some(InstanceState::Stopped), cache),
            Err(err) => {
                tracing::debug!(instance = %record.name, error = %error_chain(&err), "proxmox state unknown; last known");
                (None, CacheStatus::Stale)
            }
        }
    }

    /// The create steps `image`, `clone` and `configure` for a remote backend: PVE builds the
    /// container from its `vztmpl` template, with hostname, password hash, keys and limits.
    pub(crate) async fn create_remote(
        &self,
        op: &OpHandle,
        record: &mut InstanceRecord,
        image: &ImageRef,
        credentials: &RootCredentials,
        node: Option<String>,
    ) -> Result<(), OpError> {
        let name = record.name.clone();
        let runtime = self
            .remote(&record.backend)
            .ok_or_else(|| OpError::Failed(format!("backend {} is not remote", record.backend)))?;
        op.step(1, format!("proxmox: creating {name} from {image}"))
            .await?;
        // Checked before the undo is registered: an existing container is never removed.
        runtime
            .ensure_absent(&name)
            .await
            .map_err(|e| OpError::Failed(format!("creating {name}: {}", error_chain(&e))))?;
        op.on_undo(UndoAction::RemoveContainer {
            name: name.clone(),
            backend: record.backend.clone(),
        });
        let request = RemoteCreate {
            name: name.clone(),
            image: image.to_string(),
            password_hash: credentials.password_hash.clone(),
            ssh_keys: credentials.ssh_keys.clone(),
            limits: record.limits,
            node,
            instance_id: record.id.to_string(),
        };
        let placed = runtime
            .create(&request, |p| {
                op.step_progress(p.percent, format!("proxmox: {}", p.line))
            })
            .await
            .map_err(|e| OpError::Failed(format!("creating {name}: {}", error_chain(&e))))?;
        let why = format!(
            "proxmox built CT {} on node {} from its template",
            placed.vmid, placed.node
        );
        op.skip(2, why.clone());
        op.skip(3, why);
        record.node = placed.node;
        tracing::info!(instance = %name, operation = %op.id(), node = %record.node, vmid = placed.vmid, "created on proxmox");
        Ok(())
    }
}
