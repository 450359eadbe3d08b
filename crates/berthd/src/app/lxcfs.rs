//! The host's lxcfs for guests' own `/proc` and `/sys` views: one instance under
//! `<runtime_dir>/lxcfs`, kept running by a detached supervisor (`berthd lxcfs DIR`) that
//! outlives berthd and restarts lxcfs when it dies.

use berth_isolation::lxcfs::{Lxcfs, supervise};

use crate::app::{App, AppError};

impl App {
    /// berthd's lxcfs.
    pub fn lxcfs(&self) -> Lxcfs {
        Lxcfs::new(self.config.runtime_dir.join("lxcfs"))
    }

    /// Makes sure lxcfs runs (starting its supervisor unless one does) and returns the
    /// instance guests are given.
    pub async fn ensure_lxcfs(&self) -> Result<u64, AppError> {
        let lxcfs = self.lxcfs();
        let exe = std::env::current_exe()
            .unwrap_or_else(|_| std::path::PathBuf::from("/usr/local/bin/berthd"));
        let helper = vec![exe.into_os_string(), "lxcfs".into()];
        tokio::task::spawn_blocking(move || {
            supervise::program()?;
            supervise::ensure(&lxcfs, &helper)
        })
        .await
        .map_err(|e| AppError::internal("lxcfs task", e))?
        .map_err(|e| AppError::Unavailable(format!("lxcfs: {e}")))
    }
}
