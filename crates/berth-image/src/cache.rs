//! The image cache: `<cache_dir>/<key>/rootfs/` and `<cache_dir>/<key>/image.json`, where the key
//! is [`ImageRef::cache_key`] (`debian-12-amd64`). Builds happen in `.build-<key>-<id>` beside it
//! and are renamed into place whole; a per-key lock file serialises builders across processes.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::Duration;

use berth_types::{Arch, ImageRef};
use chrono::{DateTime, Utc};
use rustix::fs::FlockOperation;
use serde::{Deserialize, Serialize};
use tracing::{debug, info, warn};

/// The version of the layout and customisation; images of another version are rebuilt.
pub const FORMAT_VERSION: u32 = 1;

const META: &str = "image.json";
const ROOTFS: &str = "rootfs";
const BUILD_PREFIX: &str = ".build-";
const TRASH_PREFIX: &str = ".trash-";

#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    #[error(transparent)]
    Io(#[from] berth_storage::fsio::PathIoError),
    #[error("cannot write the metadata {}", .0.display())]
    Meta(PathBuf, #[source] serde_json::Error),
}

/// `io` of [`berth_storage::fsio`], for functions that return this module's error without `?`.
pub(crate) fn io(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> CacheError {
    let io = berth_storage::fsio::io(action, path);
    move |source| CacheError::Io(io(source))
}

/// `image.json`: what was built, when, and how big it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageMeta {
    pub format_version: u32,
    /// Canonical alias, `debian/12`.
    pub alias: ImageRef,
    pub arch: Arch,
    pub built_at: DateTime<Utc>,
    /// Bytes the rootfs takes on disk (hard links counted once).
    pub size: u64,
    /// The apt sources it was built from.
    #[serde(default)]
    pub sources: Vec<String>,
}

/// A built image in the cache.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CachedImage {
    pub image: ImageRef,
    pub arch: Arch,
    /// `debian-12-amd64`.
    pub key: String,
    /// `<cache_dir>/<key>`.
    pub dir: PathBuf,
    /// `<cache_dir>/<key>/rootfs`.
    pub rootfs: PathBuf,
    pub built_at: DateTime<Utc>,
    pub size: u64,
}

impl CachedImage {
    /// What the storage drivers clone from.
    pub fn tree(&self) -> berth_storage::ImageTree {
        berth_storage::ImageTree {
            key: self.key.clone(),
            label: self.image.to_string(),
            rootfs: self.rootfs.clone(),
            built_at: self.built_at,
        }
    }

    fn from_meta(dir: PathBuf, meta: ImageMeta) -> Self {
        Self {
            key: meta.alias.cache_key(meta.arch),
            rootfs: dir.join(ROOTFS),
            dir,
            image: meta.alias,
            arch: meta.arch,
            built_at: meta.built_at,
            size: meta.size,
        }
    }
}

fn read_meta(dir: &Path) -> Option<ImageMeta> {
    let text = std::fs::read(dir.join(META)).ok()?;
    let meta: ImageMeta = serde_json::from_slice(&text)
        .inspect_err(|e| warn!(dir = %dir.display(), error = %e, "unreadable image.json"))
        .ok()?;
    (meta.format_version == FORMAT_VERSION && dir.join(ROOTFS).is_dir()).then_some(meta)
}

/// The cached image, if it is complete and of the current format.
pub fn find_cached(cache_dir: &Path, image: ImageRef, arch: Arch) -> Option<CachedImage> {
    let dir = cache_dir.join(image.cache_key(arch));
    let meta = read_meta(&dir)?;
    (meta.alias == image && meta.arch == arch).then(|| CachedImage::from_meta(dir, meta))
}

/// Every complete image in the cache, sorted by key.
pub fn list_cached(cache_dir: &Path) -> Result<Vec<CachedImage>, CacheError> {
    let entries = match std::fs::read_dir(cache_dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io("read", cache_dir)(e)),
    };
    let mut images: Vec<CachedImage> = entries
        .filter_map(|e| e.ok())
        .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
        .filter_map(|e| {
            let dir = e.path();
            let meta = read_meta(&dir)?;
            (e.file_name().to_str() == Some(meta.alias.cache_key(meta.arch).as_str()))
                .then(|| CachedImage::from_meta(dir, meta))
        })
        .collect();
    images.sort_by(|a, b| a.key.cmp(&b.key));
    Ok(images)
}

/// Removes a cached image: the directory disappears at once, its files on a background thread.
/// Removing a missing image is not an error.
pub fn delete_cached(cache_dir: &Path, image: ImageRef, arch: Arch) -> Result<(), CacheError> {
    let key = image.cache_key(arch);
    if !cache_dir.join(&key).exists() {
        return Ok(());
    }
    move_to_trash(cache_dir, &key)?;
    info!(image = %image, arch = arch.as_str(), "deleted cached image");
    Ok(())
}

/// Renames `<cache_dir>/<key>` to a `.trash-` name (so the key is free at once) and removes it
/// on a thread of its own; [`remove_partial_builds`] sweeps up if the process dies first.
fn move_to_trash(cache_dir: &Path, key: &str) -> Result<(), CacheError> {
    let dir = cache_dir.join(key);
    let trash = cache_dir.join(format!(
        "{TRASH_PREFIX}{key}-{}",
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::rename(&dir, &trash).map_err(io("move aside", &dir))?;
    berth_storage::cleanup::remove_in_background(trash, "an old image");
    Ok(())
}

/// Removes what interrupted builds and deletions left (`.build-*`, `.trash-*`), skipping
/// builds whose lock is still held by a running builder.
pub fn remove_partial_builds(cache_dir: &Path) -> Result<(), CacheError> {
    let entries = match std::fs::read_dir(cache_dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(io("read", cache_dir)(e)),
    };
    for entry in entries.filter_map(|e| e.ok()) {
        let name = entry.file_name().to_string_lossy().into_owned();
        let path = entry.path();
        if name.starts_with(TRASH_PREFIX) {
            berth_storage::tree::remove_tree(&path)?;
        } else if let Some(rest) = name.strip_prefix(BUILD_PREFIX) {
            // `.build-<key>-<32 hex>`: the key is all but the last part.
            let Some((key, _)) = rest.rsplit_once('-') else {
                continue;
            };
            match KeyLock::try_acquire(cache_dir, key)? {
                Some(_lock) => {
                    info!(dir = %path.display(), "removing an interrupted build");
                    berth_storage::tree::remove_tree(&path)?;
                }
                None => debug!(dir = %path.display(), "build still running; left alone"),
            }
        }
    }
    Ok(())
}

/// An exclusive lock on one image key (`<cache_dir>/.<key>.lock`), held while building or
/// replacing it; released when dropped.
pub(crate) struct KeyLock {
    _file: File,
}

impl KeyLock {
    fn open(cache_dir: &Path, key: &str) -> Result<File, CacheError> {
        let path = cache_dir.join(format!(".{key}.lock"));
        File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(io("open the lock", &path))
    }

    /// The lock, or `None` if another builder holds it.
    pub(crate) fn try_acquire(cache_dir: &Path, key: &str) -> Result<Option<Self>, CacheError> {
        let file = Self::open(cache_dir, key)?;
        match rustix::fs::flock(&file, FlockOperation::NonBlockingLockExclusive) {
            Ok(()) => Ok(Some(Self { _file: file })),
            Err(rustix::io::Errno::WOULDBLOCK) => Ok(None),
            Err(e) => Err(io("lock", &cache_dir.join(key))(e.into())),
        }
    }

    /// Waits for the lock without blocking the runtime (dropping the future stops waiting).
    pub(crate) async fn acquire(cache_dir: &Path, key: &str) -> Result<Self, CacheError> {
        let mut logged = false;
        loop {
            if let Some(lock) = Self::try_acquire(cache_dir, key)? {
                return Ok(lock);
            }
            if !logged {
                info!(
                    key,
                    "another build of this image is running; waiting for it"
                );
                logged = true;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
}

/// A fresh build directory for `key`: `<cache_dir>/.build-<key>-<id>`.
pub(crate) fn build_dir(cache_dir: &Path, key: &str) -> PathBuf {
    cache_dir.join(format!(
        "{BUILD_PREFIX}{key}-{}",
        uuid::Uuid::new_v4().simple()
    ))
}

/// Writes `image.json` into a build directory and renames it to `<cache_dir>/<key>`, moving a
/// stale or incomplete entry of that key aside first. The caller holds the key's lock.
pub(crate) fn commit(
    cache_dir: &Path,
    build: &Path,
    meta: ImageMeta,
) -> Result<CachedImage, CacheError> {
    let meta_path = build.join(META);
    let text =
        serde_json::to_vec_pretty(&meta).map_err(|e| CacheError::Meta(meta_path.clone(), e))?;
    std::fs::write(&meta_path, text).map_err(io("write", &meta_path))?;
    let key = meta.alias.cache_key(meta.arch);
    let dir = cache_dir.join(&key);
    if dir.exists() {
        move_to_trash(cache_dir, &key)?;
    }
    std::fs::rename(build, &dir).map_err(io("rename into place", build))?;
    Ok(CachedImage::from_meta(dir, meta))
}

pub(crate) fn rootfs_of(build: &Path) -> PathBuf {
    build.join(ROOTFS)
}
