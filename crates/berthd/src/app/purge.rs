//! Purging old history on an admin's word: ended operations and audit entries older than a
//! cut-off. Operations still pending or running are never purged. The purge's own audit entry
//! is written after the request ends (see `api::audit_entry`), so it outlives the purge.

use berth_types::purge::{PurgeRequest, PurgeResult};

use super::access::{Want, admin};
use super::{App, AppError, Principal};

impl App {
    /// `POST /operations/purge`: ended operations last updated before the cut-off.
    pub fn purge_operations(
        &self,
        caller: &Principal,
        request: &PurgeRequest,
    ) -> Result<PurgeResult, AppError> {
        admin(caller, Want::Write)?;
        let before = request.cutoff()?;
        let removed = self.store.prune_operations(before)?;
        tracing::info!(actor = %caller.username, %before, removed, "operations purged");
        Ok(PurgeResult {
            removed: removed as u64,
            before,
        })
    }

    /// `POST /audit/purge`: audit entries written before the cut-off.
    pub fn purge_audit(
        &self,
        caller: &Principal,
        request: &PurgeRequest,
    ) -> Result<PurgeResult, AppError> {
        admin(caller, Want::Write)?;
        let before = request.cutoff()?;
        let removed = self.auth.db().prune_audit(before)?;
        tracing::info!(actor = %caller.username, %before, removed, "audit entries purged");
        Ok(PurgeResult {
            removed: removed as u64,
            before,
        })
    }
}
