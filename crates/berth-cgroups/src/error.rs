//! [`CgroupError`]: what can go wrong managing a guest's cgroups, for every module of the crate.

use std::io;
use std::path::{Path, PathBuf};

use crate::devices::DevicesError;
use crate::layout::LayoutError;

#[derive(Debug, thiserror::Error)]
pub enum CgroupError {
    #[error(transparent)]
    Layout(#[from] LayoutError),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("cgroup {0} did not freeze in time")]
    FreezeTimeout(PathBuf),
    #[error(transparent)]
    Devices(#[from] DevicesError),
    #[error("{path}: {value:?} is not a CPU list")]
    Parse { path: PathBuf, value: String },
}

pub(crate) fn io_err(path: &Path) -> impl FnOnce(io::Error) -> CgroupError + '_ {
    move |source| CgroupError::Io {
        path: path.to_owned(),
        source,
    }
}
