//! Instance storage, as the app uses it: clone an image for an instance, give the clone its
//! identity, set its disk limit, make sure its disk is mounted, destroy it; the pool's usage.
//! It stands beside the image service (`images.rs`), which only builds and caches images.

use std::path::{Path, PathBuf};

use berth_guestfs::customise::CustomiseError;
use berth_storage::{ImageTree, StorageDriver, StorageError};
use berth_types::{FieldError, InstanceName};

use super::AppError;
use super::error::error_chain;
use crate::config::Config;

pub struct InstanceStorage {
    driver: StorageDriver,
}

impl InstanceStorage {
    /// Opens (and when needed creates) the pool under `<data_dir>/storage`.
    /// On `volume` this mounts every instance's disk that is not mounted (after a reboot).
    pub async fn open(config: &Config) -> Result<Self, AppError> {
        let options = config
            .storage
            .options()
            .map_err(|e| AppError::internal("storage configuration", e))?;
        let driver = StorageDriver::open_with(
            &config.storage.driver,
            &config.data_dir.join("storage"),
            options,
        )
        .await
        .map_err(|e| AppError::internal("preparing storage", error_chain(&e)))?;
        Ok(Self { driver })
    }

    /// The storage driver (snapshots and backups work on it directly).
    pub(crate) fn driver(&self) -> &StorageDriver {
        &self.driver
    }

    /// A new root filesystem for `name`, cloned from a cached image's `tree` (built or
    /// fetched), with `disk` bytes if given.
    pub async fn clone_for(
        &self,
        tree: &ImageTree,
        name: &InstanceName,
        disk: Option<u64>,
    ) -> Result<PathBuf, StorageError> {
        self.driver.clone_image(tree, name.as_str(), disk).await
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

    /// Sets the disk limit. A change the instance's state or files do not allow (a running
    /// guest's disk to shrink, a disk too small for its files) says so in
    /// [`StorageError::refusal`]: the caller's error, on its disk field.
    pub async fn set_disk_limit(
        &self,
        name: &InstanceName,
        bytes: u64,
    ) -> Result<(), StorageError> {
        self.driver.set_disk_limit(name.as_str(), bytes).await
    }

    /// Makes sure the instance's root filesystem is mounted (volume; nothing on dir and
    /// btrfs) before its guest starts or berthd writes into it. Idempotent.
    pub fn activate(&self, name: &InstanceName) -> Result<PathBuf, StorageError> {
        self.driver.activate(name.as_str())
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
