//! The host id ranges of unprivileged instances (`[security]` pool, `idmaps` table): checked
//! against the host's own ids when berthd starts, allocated once per instance and kept for its
//! life (restarts, snapshots, restores, a daemon's re-adoption of its running guests),
//! released with it.

use berth_types::{IdRange, InstanceName};

use crate::app::{App, AppError};
use crate::config::Config;

impl App {
    /// Refuses a pool that overlaps ids the host already uses, naming the keys.
    pub(crate) fn check_idmap_pool(config: &Config) -> Result<(), AppError> {
        let etc = config
            .testing
            .etc_dir
            .clone()
            .unwrap_or_else(|| "/etc".into());
        config
            .security
            .check_host(&etc)
            .map_err(AppError::Unavailable)
    }

    /// `name`'s host id range: the one it holds, or the lowest free one of the pool.
    pub fn allocate_idmap(&self, name: &InstanceName) -> Result<IdRange, AppError> {
        let pool = self.config.security.pool().map_err(AppError::Internal)?;
        match self.store.allocate_idmap(name, &pool)? {
            Some(range) => {
                tracing::info!(instance = %name, range = %range, "id range");
                Ok(range)
            }
            None => Err(AppError::Unavailable(format!(
                "security.idmap_size: every one of the {} id ranges of the pool is in use; \
                 delete an instance or enlarge the pool",
                pool.slots()
            ))),
        }
    }

    /// `name`'s range, `None` when it has none (privileged, or made before id ranges).
    pub fn idmap_of(&self, name: &InstanceName) -> Result<Option<IdRange>, AppError> {
        Ok(self.store.idmap_of(name)?)
    }
}
