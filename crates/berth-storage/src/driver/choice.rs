//! Which driver a pool uses: the configured choice, and what `auto` picks — the driver of a
//! pool that already exists (so an upgrade never changes what existing instances live on), else
//! `btrfs`, else `volume`, else `dir`. `volume` (a guest's `df` shows its disk limit) is chosen
//! by name: a mount namespace made while one of its disks is mounted (every unprivileged
//! guest's supervisor makes one) holds that disk's loop device until it ends, so a new size's
//! template or a shrink can be refused as in use until the pool's mounts propagate (MS_SLAVE).

use std::path::Path;

use tracing::{info, warn};

use super::{BtrfsDriver, DirDriver, PoolOptions, StorageDriver, StorageError, VolumeDriver};

/// The configured choice: `driver = "auto" | "dir" | "btrfs" | "volume"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DriverChoice {
    /// The existing pool's driver; for a new pool btrfs, else volume, else dir.
    Auto,
    Dir,
    Btrfs,
    Volume,
}

impl DriverChoice {
    pub fn parse(raw: &str) -> Result<Self, StorageError> {
        match raw {
            "auto" | "" => Ok(Self::Auto),
            "dir" => Ok(Self::Dir),
            "btrfs" => Ok(Self::Btrfs),
            "volume" => Ok(Self::Volume),
            other => Err(StorageError::UnknownDriver(other.to_owned())),
        }
    }

    /// The names `parse` accepts, for messages and config checks.
    pub const NAMES: [&'static str; 4] = ["auto", "dir", "btrfs", "volume"];
}

/// The driver of the pool that exists under `storage_dir`, if any.
fn existing(storage_dir: &Path, options: PoolOptions) -> Option<StorageDriver> {
    let dir = DirDriver::new(storage_dir);
    if dir.has_instances() {
        info!("dir instances exist; keeping the dir storage driver");
        return Some(StorageDriver::Dir(dir));
    }
    if VolumeDriver::exists(storage_dir) {
        return Some(StorageDriver::Volume(VolumeDriver::new(
            storage_dir,
            options.pool_size,
            options.volume_size,
        )));
    }
    if storage_dir.join("btrfs.img").exists() || storage_dir.join("btrfs/images").is_dir() {
        info!("a btrfs pool exists; keeping the btrfs storage driver");
        return Some(StorageDriver::Btrfs(BtrfsDriver::new(
            storage_dir,
            options.pool_size,
        )));
    }
    None
}

/// What `auto` opens under `storage_dir`.
pub(super) async fn auto(storage_dir: &Path, options: PoolOptions) -> StorageDriver {
    if let Some(driver) = existing(storage_dir, options) {
        match driver.prepare().await {
            Ok(()) => return driver,
            Err(e) => {
                // Never switch drivers under existing instances: keep it, report it.
                warn!(driver = driver.name(), error = %crate::error_chain(&e), "preparing the existing pool failed");
                return driver;
            }
        }
    }
    let btrfs = BtrfsDriver::new(storage_dir, options.pool_size);
    match btrfs.prepare().await {
        Ok(()) => return StorageDriver::Btrfs(btrfs),
        Err(e) => {
            warn!(error = %crate::error_chain(&e), "btrfs storage unavailable; trying volume")
        }
    }
    let volume = VolumeDriver::new(storage_dir, options.pool_size, options.volume_size);
    match volume.prepare().await {
        Ok(()) => return StorageDriver::Volume(volume),
        Err(e) => {
            warn!(error = %crate::error_chain(&e), "volume storage unavailable; using dir");
            // Leave no half-made pool behind (it would be taken for an existing one).
            let _ = volume.teardown().await;
            let root = storage_dir.join("volume");
            if crate::mounts::mount_at(&root).is_none() {
                let _ = std::fs::remove_file(storage_dir.join("volume.img"));
                let _ = crate::tree::remove_tree(&root);
            }
        }
    }
    let driver = StorageDriver::Dir(DirDriver::new(storage_dir));
    if let Err(e) = driver.prepare().await {
        warn!(error = %crate::error_chain(&e), "preparing dir storage failed");
    }
    driver
}
