//! Guests a failed create left on a remote backend. When PVE stops answering after it
//! accepted a create, the create fails and Berth's side is undone at once, but PVE's task may
//! still finish the container. The undo that could not reach PVE is kept in the store
//! (`pending_cleanups`: backend, name, Berth's id of the instance) and retried by the
//! backend's follower each time PVE answers, until that container is gone — only the one made
//! for that instance (its description carries the id) and owned by no instance record, never a
//! container of the same name someone else made.

use berth_runtime::{AnyRuntime, Runtime, RuntimeError};
use berth_store::PendingCleanup;
use berth_types::{BackendName, InstanceName};
use chrono::Utc;
use uuid::Uuid;

use super::App;
use super::error::{HostError, error_chain};

impl App {
    /// Keeps the removal of `name` (made for instance `id`) that failed with `err` for later.
    pub(crate) fn defer_leftover(
        &self,
        backend: &BackendName,
        name: &InstanceName,
        id: Uuid,
        err: &RuntimeError,
    ) -> Result<(), HostError> {
        tracing::warn!(instance = %name, instance_id = %id, %backend, error = %error_chain(err),
            "cannot remove the guest now; it is removed once the backend answers");
        self.store.add_pending_cleanup(&PendingCleanup {
            instance_id: id,
            backend: backend.clone(),
            name: name.clone(),
            since: Utc::now(),
        })?;
        Ok(())
    }

    /// Retries every cleanup waiting on `backend` (which just answered); each one done is
    /// forgotten, each one that fails stays for the next round.
    pub(crate) async fn clean_leftovers(&self, backend: &BackendName, runtime: &AnyRuntime) {
        let pending = match self.store.pending_cleanups(backend) {
            Ok(pending) => pending,
            Err(err) => {
                return tracing::warn!(%backend, error = %error_chain(&err), "cannot read pending cleanups");
            }
        };
        for cleanup in pending {
            let (name, id) = (&cleanup.name, cleanup.instance_id);
            // An instance record of that id owns the guest after all: it is not a leftover.
            let owned = match self.store.get_instance(name) {
                Ok(record) => record.is_some_and(|r| r.id == id),
                Err(err) => {
                    tracing::warn!(instance = %name, error = %error_chain(&err), "cannot read the instance");
                    continue;
                }
            };
            if !owned {
                if let Err(err) = runtime.remove_leftover(name, &id.to_string()).await {
                    tracing::debug!(instance = %name, instance_id = %id, error = %error_chain(&err),
                        "leftover not removed yet");
                    continue;
                }
                tracing::info!(instance = %name, instance_id = %id, %backend,
                    "removed what a failed create left on the backend");
            }
            if let Err(err) = self.store.remove_pending_cleanup(id) {
                tracing::warn!(instance = %name, error = %error_chain(&err), "cannot forget a done cleanup");
            }
        }
    }
}
