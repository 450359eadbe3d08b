//! Berth images: the catalog of images and their mirrors, building root filesystems with
//! mmdebstrap (or debootstrap) into a shared cache, cloning them per instance through a storage
//! driver (`dir` or `btrfs`), and customising a clone safely (no write ever leaves the rootfs).
//!
//! Cache layout (others rely on it): `<cache_dir>/<image.cache_key(arch)>/rootfs/` and
//! `<cache_dir>/<key>/image.json`.

pub mod bootstrap;
pub mod build;
pub mod cache;
pub mod catalog;
pub mod cmd;
pub mod customise;
pub mod mounts;
pub mod rootfs;
pub mod sources;
pub mod storage;
pub mod tailor;

pub use build::{BuildError, BuildProgress, build, ensure_built};
pub use cache::{
    CacheError, CachedImage, ImageMeta, delete_cached, find_cached, list_cached,
    remove_partial_builds,
};
pub use catalog::{Mirrors, Source};
pub use storage::{DiskUsage, DriverChoice, StorageDriver, StorageError};

/// An error and its causes on one line: `a: b: c`.
pub fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
