//! Fetched images in the cache: `<cache_dir>/streams/<remote>/<key>/{rootfs,image.json}`,
//! found by remote, alias and architecture, listed, deleted, and what interrupted fetches
//! left swept (the same `.build-` and lock layout as local builds, one level down).

use std::path::{Path, PathBuf};

use berth_types::Arch;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tracing::{info, warn};

use super::{FORMAT_VERSION, META, ROOTFS, StreamsError, key, remote_dir};

/// A fetched image in the cache.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FetchedMeta {
    pub format_version: u32,
    pub remote: String,
    /// The server's URL when it was fetched.
    pub url: String,
    /// The alias it was asked for, `alpine/3.20`.
    pub alias: String,
    pub arch: Arch,
    pub product: String,
    pub version: String,
    pub ftype: String,
    pub sha256: String,
    /// Bytes of file content unpacked.
    pub size: u64,
    pub fetched_at: DateTime<Utc>,
    /// Packages installed in it, when its package database was found (absent in entries
    /// fetched before it was recorded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub packages: Option<u32>,
    /// The package manager counted (`dpkg`, `apk`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub package_manager: Option<String>,
}

/// A fetched image: its metadata and where its root filesystem is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchedImage {
    pub meta: FetchedMeta,
    /// `<cache_dir>/streams/<remote>/<key>`.
    pub dir: PathBuf,
    pub rootfs: PathBuf,
}

impl FetchedImage {
    /// What the storage drivers clone from.
    pub fn tree(&self) -> berth_storage::ImageTree {
        berth_storage::ImageTree {
            key: format!(
                "streams-{}-{}",
                self.meta.remote,
                key(&self.meta.alias, self.meta.arch)
            ),
            label: format!("{}:{}", self.meta.remote, self.meta.alias),
            rootfs: self.rootfs.clone(),
            built_at: self.meta.fetched_at,
        }
    }
}

/// The cached image of `alias` on `arch` from `remote`, if it is complete.
pub fn find_fetched(
    cache_dir: &Path,
    remote: &str,
    alias: &str,
    arch: Arch,
) -> Option<FetchedImage> {
    let dir = remote_dir(cache_dir, remote).join(key(alias, arch));
    let text = std::fs::read(dir.join(META)).ok()?;
    let meta: FetchedMeta = serde_json::from_slice(&text)
        .inspect_err(|e| warn!(dir = %dir.display(), error = %e, "unreadable image.json"))
        .ok()?;
    let fits = meta.format_version == FORMAT_VERSION
        && meta.remote == remote
        && meta.alias == alias
        && meta.arch == arch
        && dir.join(ROOTFS).is_dir();
    fits.then(|| FetchedImage {
        rootfs: dir.join(ROOTFS),
        dir,
        meta,
    })
}

/// Every complete fetched image, sorted by remote, alias and architecture.
pub fn list_fetched(cache_dir: &Path) -> Vec<FetchedImage> {
    let mut out = Vec::new();
    let remotes = std::fs::read_dir(cache_dir.join("streams"))
        .into_iter()
        .flatten();
    for remote in remotes.filter_map(|e| e.ok()) {
        let remote_name = remote.file_name().to_string_lossy().into_owned();
        let entries = std::fs::read_dir(remote.path()).into_iter().flatten();
        for entry in entries.filter_map(|e| e.ok()) {
            let dir = entry.path();
            if entry.file_name().to_string_lossy().starts_with('.') {
                continue;
            }
            let Some(meta) = read_meta(&dir) else {
                continue;
            };
            if meta.remote == remote_name
                && entry.file_name().to_str() == Some(key(&meta.alias, meta.arch).as_str())
                && dir.join(ROOTFS).is_dir()
            {
                out.push(FetchedImage {
                    rootfs: dir.join(ROOTFS),
                    dir,
                    meta,
                });
            }
        }
    }
    out.sort_by(|a, b| {
        (&a.meta.remote, &a.meta.alias, a.meta.arch.as_str()).cmp(&(
            &b.meta.remote,
            &b.meta.alias,
            b.meta.arch.as_str(),
        ))
    });
    out
}

fn read_meta(dir: &Path) -> Option<FetchedMeta> {
    let text = std::fs::read(dir.join(META)).ok()?;
    let meta: FetchedMeta = serde_json::from_slice(&text)
        .inspect_err(|e| warn!(dir = %dir.display(), error = %e, "unreadable image.json"))
        .ok()?;
    (meta.format_version == FORMAT_VERSION).then_some(meta)
}

/// Removes a fetched image; `false` when it was not there. Instances made from it keep their
/// own copy.
pub fn delete_fetched(
    cache_dir: &Path,
    remote: &str,
    alias: &str,
    arch: Arch,
) -> Result<bool, StreamsError> {
    let Some(found) = find_fetched(cache_dir, remote, alias, arch) else {
        return Ok(false);
    };
    berth_storage::tree::remove_tree(&found.dir)?;
    info!(
        remote,
        alias,
        arch = arch.as_str(),
        "deleted a fetched image"
    );
    Ok(true)
}

/// Removes what interrupted fetches left (`.build-*` whose lock is free); only for start-up or
/// with the locks' rules, as [`crate::remove_partial_builds`].
pub fn remove_partial_fetches(cache_dir: &Path) -> Result<(), StreamsError> {
    let remotes = std::fs::read_dir(cache_dir.join("streams"))
        .into_iter()
        .flatten();
    for remote in remotes.filter_map(|e| e.ok()) {
        crate::remove_partial_builds(&remote.path())?;
    }
    Ok(())
}
