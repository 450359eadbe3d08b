//! What the storage drivers clone from: a built image's root filesystem, named by its cache key.
//! The image crate hands one over; storage never reads the image cache itself.

use std::path::PathBuf;

use chrono::{DateTime, Utc};

/// A built image's tree, as the drivers need it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageTree {
    /// The cache key (`debian-12-amd64`): the pool keeps one imported copy per key.
    pub key: String,
    /// What to call it in logs (`debian/12`).
    pub label: String,
    /// The image's root filesystem.
    pub rootfs: PathBuf,
    /// When it was built: a pool copy of an older build is replaced.
    pub built_at: DateTime<Utc>,
}
