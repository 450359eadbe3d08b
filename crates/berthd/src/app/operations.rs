//! Reading, waiting for and cancelling operations.

use std::time::Duration;

use berth_types::Operation;
use uuid::Uuid;

use super::access::{Want, owned_by};
use super::{App, AppError, Principal};

/// Most operations `GET /operations` returns.
const LIST_LIMIT: usize = 200;
/// Longest `wait` a caller may ask for.
pub const MAX_WAIT: u64 = 3600;

impl App {
    /// Recent operations `caller` may see: their own, or all for an admin.
    pub fn list_operations(&self, caller: &Principal) -> Result<Vec<Operation>, AppError> {
        Ok(self
            .store
            .list_operations(LIST_LIMIT)?
            .into_iter()
            .filter(|record| caller.can_read(&record.operation.owner))
            .map(|record| self.live_view(record.operation))
            .collect())
    }

    /// Operation `id` if `caller` may `want` it (404 otherwise, as if missing).
    pub fn get_operation(&self, caller: &Principal, id: &str) -> Result<Operation, AppError> {
        self.operation_for(caller, id, Want::Read)
    }

    fn operation_for(
        &self,
        caller: &Principal,
        id: &str,
        want: Want,
    ) -> Result<Operation, AppError> {
        let id = parse_id(id)?;
        let record = self
            .store
            .get_operation(id)?
            .ok_or_else(|| AppError::NotFound(format!("operation {id}")))?;
        owned_by(
            caller,
            &record.operation.owner,
            want,
            &format!("operation {id}"),
        )?;
        Ok(self.live_view(record.operation))
    }

    /// A live operation's in-memory view carries `cancellable`; the stored one does not.
    fn live_view(&self, stored: Operation) -> Operation {
        match self.operations.watch(stored.id) {
            Some(rx) => rx.borrow().clone(),
            None => stored,
        }
    }

    /// Waits until the operation ends or `timeout` seconds pass, then returns it as it is.
    pub async fn wait_operation(
        &self,
        caller: &Principal,
        id: &str,
        timeout: Option<u64>,
    ) -> Result<Operation, AppError> {
        let current = self.get_operation(caller, id)?;
        let timeout = timeout.unwrap_or(MAX_WAIT);
        if timeout > MAX_WAIT {
            return Err(berth_types::FieldError::new(
                "timeout",
                format!("give at most {MAX_WAIT} seconds"),
            )
            .into());
        }
        let Some(mut rx) = self.operations.watch(current.id) else {
            return Ok(current);
        };
        let wait = rx.wait_for(|op| op.status.is_final());
        let _ = tokio::time::timeout(Duration::from_secs(timeout), wait).await;
        self.get_operation(caller, id)
    }

    /// Asks a running operation to stop; refused when it is not at a cancellable step.
    pub fn cancel_operation(&self, caller: &Principal, id: &str) -> Result<Operation, AppError> {
        let current = self.operation_for(caller, id, Want::Write)?;
        if current.status.is_final() {
            return Err(AppError::Conflict(format!(
                "operation {} has already ended ({})",
                current.id,
                current.status.as_str()
            )));
        }
        if !current.cancellable {
            return Err(AppError::Conflict(format!(
                "operation {} cannot be cancelled at this step ({}); wait for it",
                current.id, current.message
            )));
        }
        self.operations.cancel(current.id);
        Ok(current)
    }
}

fn parse_id(raw: &str) -> Result<Uuid, AppError> {
    Uuid::parse_str(raw).map_err(|_| AppError::NotFound(format!("operation {raw:?}")))
}
