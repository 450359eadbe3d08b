//! Building an image into the cache, in five reported steps: resolve the mirror, bootstrap,
//! configure for containers, clean, save. The build happens in a temporary directory beside the
//! cache entry and is renamed into place whole; a failed or cancelled (dropped) build kills the
//! bootstrapper and leaves nothing behind.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Instant;

use berth_types::{Arch, ImageRef};
use tracing::info;

use crate::bootstrap::{self, BootstrapError, Tool};
use crate::cache::{self, CacheError, CachedImage, ImageMeta, KeyLock};
use crate::catalog::{Mirrors, Source};
use crate::tailor::{self, TailorError};
use berth_storage::cleanup::RemoveOnDrop;

#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("cannot create the cache directory {}", .0.display())]
    CacheDir(PathBuf, #[source] std::io::Error),
    #[error("bootstrapping {0} failed")]
    Bootstrap(ImageRef, #[source] BootstrapError),
    #[error("configuring {0} for containers failed")]
    Tailor(ImageRef, #[source] TailorError),
    #[error("the image cache failed")]
    Cache(#[from] CacheError),
    #[error("the build task of {0} died")]
    Join(ImageRef, #[source] tokio::task::JoinError),
}

/// Where a build is: step `step` of `steps`, its message, and a detail the bootstrapper gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildProgress {
    pub step: u32,
    pub steps: u32,
    pub message: String,
    pub detail: Option<String>,
}

impl BuildProgress {
    /// 0–99: how much of the build is done when this step starts.
    pub fn percent(&self) -> u8 {
        let done = self.step.saturating_sub(1).min(self.steps);
        u8::try_from(done * 100 / self.steps.max(1))
            .unwrap_or(99)
            .min(99)
    }
}

impl fmt::Display for BuildProgress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({}/{})", self.message, self.step, self.steps)?;
        if let Some(detail) = &self.detail {
            write!(f, ": {detail}")?;
        }
        Ok(())
    }
}

pub const STEPS: [&str; 5] = [
    "resolving mirror",
    "downloading and unpacking packages",
    "configuring for containers",
    "cleaning",
    "saving to cache",
];

struct Reporter<'a> {
    progress: &'a mut (dyn FnMut(BuildProgress) + Send),
}

impl Reporter<'_> {
    fn step(&mut self, step: u32, detail: Option<String>) {
        let message = STEPS[(step as usize).saturating_sub(1)].to_owned();
        (self.progress)(BuildProgress {
            step,
            steps: STEPS.len() as u32,
            message,
            detail,
        });
    }
}

/// The cached image, built first if it is missing (see [`build`]). Concurrent callers, in this
/// process or another sharing the cache, build it once.
pub async fn ensure_built(
    cache_dir: &Path,
    image: ImageRef,
    arch: Arch,
    mirrors: &Mirrors,
    mut progress: impl FnMut(BuildProgress) + Send,
) -> Result<CachedImage, BuildError> {
    if let Some(cached) = cache::find_cached(cache_dir, image, arch) {
        return Ok(cached);
    }
    std::fs::create_dir_all(cache_dir)
        .map_err(|e| BuildError::CacheDir(cache_dir.to_owned(), e))?;
    let _lock = KeyLock::acquire(cache_dir, &image.cache_key(arch)).await?;
    if let Some(cached) = cache::find_cached(cache_dir, image, arch) {
        return Ok(cached);
    }
    build_locked(cache_dir, image, arch, mirrors, &mut progress).await
}

/// Builds `image` for `arch` into the cache, replacing what is there.
pub async fn build(
    cache_dir: &Path,
    image: ImageRef,
    arch: Arch,
    mirrors: &Mirrors,
    mut progress: impl FnMut(BuildProgress) + Send,
) -> Result<CachedImage, BuildError> {
    std::fs::create_dir_all(cache_dir)
        .map_err(|e| BuildError::CacheDir(cache_dir.to_owned(), e))?;
    let _lock = KeyLock::acquire(cache_dir, &image.cache_key(arch)).await?;
    build_locked(cache_dir, image, arch, mirrors, &mut progress).await
}

async fn build_locked(
    cache_dir: &Path,
    image: ImageRef,
    arch: Arch,
    mirrors: &Mirrors,
    progress: &mut (dyn FnMut(BuildProgress) + Send),
) -> Result<CachedImage, BuildError> {
    let started = Instant::now();
    let mut report = Reporter { progress };

    report.step(1, None);
    let source = Source::resolve(image, arch, mirrors);
    let tool = Tool::detect().map_err(|e| BuildError::Bootstrap(image, e))?;
    report.step(1, Some(format!("{} from {}", tool.name(), source.mirror)));
    info!(%image, arch = arch.as_str(), mirror = %source.mirror, tool = tool.name(), "building image");

    let build_dir = cache::build_dir(cache_dir, &image.cache_key(arch));
    std::fs::create_dir(&build_dir).map_err(cache::io("create", &build_dir))?;
    let guard = RemoveOnDrop::new(build_dir.clone(), "a failed build");
    let rootfs = cache::rootfs_of(&build_dir);

    report.step(2, None);
    bootstrap::run(&tool, &source, &rootfs, &mut |detail| {
        report.step(2, Some(detail))
    })
    .await
    .map_err(|e| BuildError::Bootstrap(image, e))?;

    report.step(3, None);
    tailor::configure(&rootfs, &source)
        .await
        .map_err(|e| BuildError::Tailor(image, e))?;

    report.step(4, None);
    let cleaning_root = rootfs.clone();
    tokio::task::spawn_blocking(move || tailor::clean(&cleaning_root))
        .await
        .map_err(|e| BuildError::Join(image, e))?
        .map_err(|e| BuildError::Tailor(image, e))?;

    report.step(5, None);
    let sizing_root = rootfs.clone();
    let size = tokio::task::spawn_blocking(move || berth_storage::tree::disk_usage(&sizing_root))
        .await
        .map_err(|e| BuildError::Join(image, e))?
        .map_err(CacheError::from)?;
    let meta = ImageMeta {
        format_version: cache::FORMAT_VERSION,
        alias: image,
        arch,
        built_at: chrono::Utc::now(),
        size,
        sources: source.apt_lines(),
    };
    let cached = cache::commit(cache_dir, &build_dir, meta)?;
    guard.disarm();
    info!(
        %image,
        arch = arch.as_str(),
        size,
        seconds = started.elapsed().as_secs_f64(),
        "image built"
    );
    Ok(cached)
}
