//! Instance storage, as the app uses it: clone an image for an instance, give the clone its
//! identity, set its disk limit, destroy it; the pool's usage. It stands beside the image
//! service (`images.rs`), which only builds and caches images.

use std::path::{Path, PathBuf};

use berth_guestfs::customise::CustomiseError;
use berth_image::CachedImage;
use berth_storage::{StorageDriver, StorageError};
use berth_types::{FieldError, InstanceName};

use super::AppError;
use super::error::error_chain;
use crate::config::Config;

pub struct InstanceStorage {
    driver: StorageDriver,
}

impl InstanceStorage {
    /// Opens (and when needed creates) the pool under `<data_dir>/storage`.
    pub async fn open(config: &Config) -> Result<Self, AppError> {
        let pool_size =
            berth_types::units::parse_bytes(&config.storage.pool_size, "storage.pool_size")?;
        let driver = StorageDriver::open(
            &config.storage.driver,
            &config.data_dir.join("storage"),
            pool_size,
        )
        .await
        .map_err(|e| AppError::internal("preparing storage", error_chain(&e)))?;
        Ok(Self { driver })
    }

    /// The storage driver (snapshots and backups work on it directly).
    pub(crate) fn driver(&self) -> &StorageDriver {
        &self.driver
    }

    /// A new root filesystem for `name`, cloned from `cached`, with `disk` bytes if given.
    pub async fn clone_for(
        &self,
        cached: &CachedImage,
        name: &InstanceName,
        disk: Option<u64>,
    ) -> Result<PathBuf, StorageError> {
        self.driver
            .clone_image(&cached.tree(), name.as_str(), disk)
            .await
    }

    /// Makes a new clone this instance's own: hostname, machine id, root login policy.
    pub async fn customise(
        &self,
        rootfs: &Path,
        name: &InstanceName,
    ) -> Result<(), CustomiseError> {
        berth_guestfs::customise::customise(rootfs, name.as_str())
    }

    /// `Ok` when the storage driver can limit a disk, else why not, naming `field`.
    pub fn disk_limit_supported(&self, field: &str) -> Result<(), FieldError> {
        self.driver
            .disk_limit_supported()
            .map_err(|why| FieldError::new(field, why))
    }

    pub async fn set_disk_limit(
        &self,
        name: &InstanceName,
        bytes: u64,
    ) -> Result<(), StorageError> {
        self.driver.set_disk_limit(name.as_str(), bytes).await
    }

    pub async fn destroy(&self, name: &InstanceName) -> Result<(), StorageError> {
        self.driver.destroy(name.as_str()).await
    }

    /// Bytes used and free in the pool, when it can tell.
    pub async fn pool_usage(&self) -> (Option<u64>, Option<u64>) {
        match self.driver.pool_usage().await {
            Ok((used, free)) => (Some(used), Some(free)),
            Err(_) => (None, None),
        }
    }

    pub fn driver_name(&self) -> &'static str {
        self.driver.name()
    }

    pub fn pool_path(&self) -> PathBuf {
        self.driver.root().to_owned()
    }
}
