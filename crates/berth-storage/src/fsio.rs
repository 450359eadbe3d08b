//! The crate's one filesystem error shape: what was being done, to which path.

use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
#[error("cannot {action} {}", path.display())]
pub struct PathIoError {
    pub action: &'static str,
    pub path: PathBuf,
    #[source]
    pub source: std::io::Error,
}

/// A `map_err` adapter: `fs::read(p).map_err(io("read", p))?`.
pub fn io(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> PathIoError {
    let path = path.to_owned();
    move |source| PathIoError {
        action,
        path,
        source,
    }
}
