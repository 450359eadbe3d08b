//! Backends that keep guests elsewhere (`Placement::Remote`): writes are refused with 503
//! while the backend does not answer, so nothing is started that cannot finish.

use berth_runtime::Runtime;
use berth_types::BackendName;

use super::{App, AppError};

impl App {
    /// Refuses a write (503 `backend_unavailable`) while the backend does not answer, so
    /// nothing is started that cannot finish. Local backends always answer.
    pub(crate) async fn ensure_writable(&self, backend: &BackendName) -> Result<(), AppError> {
        match self.backends.find(backend) {
            Some(runtime) => runtime.probe().await.map_err(AppError::from),
            None => Ok(()),
        }
    }
}
