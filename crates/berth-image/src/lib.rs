//! Berth images: the catalog of images and their mirrors, building root filesystems with
//! mmdebstrap (or debootstrap) into a shared cache, tailoring them for Berth, importing OCI
//! application images, and fetching images from simplestreams image servers. Instances' disks
//! (clones, snapshots, backups) are `berth-storage`'s; writes inside a guest's tree are
//! `berth-guestfs`'s.
//!
//! Cache layout (others rely on it): `<cache_dir>/<image.cache_key(arch)>/rootfs/` and
//! `<cache_dir>/<key>/image.json`; image-server images under
//! `<cache_dir>/streams/<remote>/<key>/`.

pub mod bootstrap;
pub mod build;
pub mod cache;
pub mod catalog;
pub mod foreign;
pub mod keyring;
pub mod oci;
pub mod packages;
pub mod progress;
pub mod sources;
pub mod streams;
pub mod tailor;
mod terminal;

pub use build::{BuildError, BuildProgress, build, ensure_built};
pub use cache::{
    CacheError, CachedImage, ImageMeta, delete_cached, find_cached, list_cached,
    remove_partial_builds,
};
pub use catalog::{Mirrors, Source};

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
    }
}
