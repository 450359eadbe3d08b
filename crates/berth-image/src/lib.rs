//! Berth images: the catalog of images and their mirrors, building root filesystems with
//! mmdebstrap (or debootstrap) into a shared cache, cloning them per instance through a storage
//! driver (`dir` or `btrfs`), and customising a clone safely (no write ever leaves the rootfs).
//!
//! Cache layout (others rely on it): `<cache_dir>/<image.cache_key(arch)>/rootfs/` and
//! `<cache_dir>/<key>/image.json`.

pub mod backup;
pub mod bootstrap;
pub mod build;
pub mod cache;
pub mod catalog;
mod cleanup;
pub mod cmd;
pub mod customise;
pub mod fsio;
pub mod mounts;
pub mod network;
pub mod oci;
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

pub use berth_types::error_chain;

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn assert_send<T: Send>(_: &T) {}

    /// The daemon runs these on tokio's multi-threaded runtime: their futures must be `Send`.
    #[test]
    fn futures_are_send() {
        let image = berth_types::ImageRef::parse("debian/12").expect("known");
        let arch = berth_types::Arch::Amd64;
        let mirrors = Mirrors::default();
        let cache = Path::new("/nonexistent");
        assert_send(&ensure_built(cache, image, arch, &mirrors, |_| {}));
        assert_send(&build(cache, image, arch, &mirrors, |_| {}));
        assert_send(&StorageDriver::open("dir", cache, 1 << 30));
        let driver = StorageDriver::Btrfs(storage::BtrfsDriver::new(cache, 1 << 30));
        let cached = CachedImage {
            image,
            arch,
            key: image.cache_key(arch),
            dir: cache.into(),
            rootfs: cache.into(),
            built_at: chrono::Utc::now(),
            size: 0,
        };
        assert_send(&driver.clone_image(&cached, "a", None));
        assert_send(&driver.destroy("a"));
        assert_send(&driver.usage("a"));
        assert_send(&driver.set_disk_limit("a", 1));
        assert_send(&driver.pool_usage());
        assert_send(&driver.prepare());
        assert_send(&driver.teardown());
    }
}
