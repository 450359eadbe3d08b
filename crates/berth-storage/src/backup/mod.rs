//! Instance backups: one `.tar.zst` stream holding `backup.json` (the manifest, always first)
//! and `rootfs/…`. Export never follows a symlink; import is hardened — it unpacks only into
//! a fresh directory, refuses absolute paths, `..`, paths through symlinks, hard links out of
//! the tree, device nodes outside `/dev`, and anything past its size and entry limits, naming
//! the archive entry in every error.

mod export;
mod import;
mod verify;

pub use export::{ExportStats, export};
pub use import::{ImportLimits, import};
pub use verify::verify;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The format this code writes and reads.
pub const FORMAT: u32 = 1;
/// The manifest's name in the archive.
pub const MANIFEST: &str = "backup.json";

/// What a backup is of.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BackupManifest {
    pub format: u32,
    /// The instance's name when it was backed up.
    pub instance: String,
    pub image: String,
    /// The instance's limits and settings, as the API shows them.
    pub config: serde_json::Value,
    pub created_at: DateTime<Utc>,
    /// Snapshots in the archive (`snapshots/<name>/…`), oldest first.
    #[serde(default)]
    pub snapshots: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("the archive has no valid {MANIFEST} first: {0}")]
    Manifest(String),
    #[error("archive entry {path:?}: {reason}")]
    Entry { path: String, reason: String },
    #[error("the archive unpacks to more than {0} bytes")]
    TooBig(u64),
    #[error("the archive has more than {0} entries")]
    TooManyEntries(u64),
    #[error("the archive is truncated or corrupt")]
    Corrupt(#[source] std::io::Error),
    #[error("writing the archive")]
    Write(#[source] std::io::Error),
    #[error("reading {path}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Rootfs(#[from] berth_guestfs::rootfs::RootfsError),
}

impl From<crate::untar::UntarError> for BackupError {
    fn from(e: crate::untar::UntarError) -> Self {
        use crate::untar::UntarError;
        match e {
            UntarError::Entry { path, reason } => Self::Entry { path, reason },
            UntarError::TooBig(max) => Self::TooBig(max),
            UntarError::TooManyEntries(max) => Self::TooManyEntries(max),
            UntarError::Corrupt(e) => Self::Corrupt(e),
        }
    }
}
