//! Instance storage: where each instance's rootfs lives and how it is cloned from a cached
//! image. One module per driver; [`StorageDriver`] is the closed set the daemon holds.
//!
//! Layout under the storage directory (`<data_dir>/storage`):
//! - `dir/instances/<name>/` — the `dir` driver (plain copies; reflinks where the fs has them);
//! - `btrfs.img` mounted at `btrfs/` — the `btrfs` driver's loop-backed pool, unless the storage
//!   directory is on btrfs already, when `btrfs/` is a plain directory on it; inside it
//!   `images/<key>` (read-only subvolumes) and `instances/<name>` (their snapshots).

use std::path::{Path, PathBuf};

use berth_types::InstanceName;
use tracing::{info, warn};

use crate::ImageTree;

/// Copies the contents of `from` into the existing directory `to`, preserving everything and
/// sharing extents where the filesystem can (`cp -a --reflink=auto FROM/. TO`).
async fn copy_tree(from: &Path, to: &Path) -> Result<String, crate::cmd::CmdError> {
    let mut source = from.as_os_str().to_owned();
    source.push("/.");
    let args: [&std::ffi::OsStr; 4] = [
        "-a".as_ref(),
        "--reflink=auto".as_ref(),
        &source,
        to.as_os_str(),
    ];
    crate::cmd::run("cp", args).await
}

pub mod btrfs;
pub mod dir;
mod pool;
mod qgroup;
mod snapshot;

pub use btrfs::{BtrfsDriver, BtrfsError};
pub use dir::{DirDriver, DirError};

/// Size of a new loop-backed btrfs pool file (sparse: it takes only what is written).
pub const DEFAULT_POOL_SIZE: u64 = 100 << 30;

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("storage.driver {0:?} is unknown; use auto, dir or btrfs")]
    UnknownDriver(String),
    #[error("{0:?} is not a valid instance or snapshot name")]
    BadName(String),
    #[error("snapshot {0} already exists")]
    SnapshotExists(String),
    #[error("snapshot {0} does not exist")]
    NoSnapshot(String),
    #[error("instance {0} has no root filesystem")]
    NoRootfs(String),
    #[error(transparent)]
    Dir(#[from] DirError),
    #[error(transparent)]
    Btrfs(#[from] BtrfsError),
}

/// The configured choice: `driver = "auto" | "dir" | "btrfs"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DriverChoice {
    /// btrfs when it can be set up, else dir (and dir while dir instances exist).
    Auto,
    Dir,
    Btrfs,
}

impl DriverChoice {
    pub fn parse(raw: &str) -> Result<Self, StorageError> {
        match raw {
            "auto" | "" => Ok(Self::Auto),
            "dir" => Ok(Self::Dir),
            "btrfs" => Ok(Self::Btrfs),
            other => Err(StorageError::UnknownDriver(other.to_owned())),
        }
    }
}

/// Disk use of one instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DiskUsage {
    /// Bytes the instance's rootfs refers to (what a disk limit counts).
    pub used: u64,
    /// Bytes only this instance holds (not shared with its image); btrfs only.
    pub exclusive: Option<u64>,
    /// The disk limit in force, if any.
    pub limit: Option<u64>,
}

/// The storage driver in use.
#[derive(Debug)]
pub enum StorageDriver {
    Dir(DirDriver),
    Btrfs(BtrfsDriver),
}

impl StorageDriver {
    /// Picks the driver for `driver` ("auto", "dir", "btrfs") under `storage_dir` and prepares
    /// it. `pool_size` sizes a new loop-backed btrfs pool.
    pub async fn open(
        driver: &str,
        storage_dir: &Path,
        pool_size: u64,
    ) -> Result<Self, StorageError> {
        let chosen = match DriverChoice::parse(driver)? {
            DriverChoice::Dir => Self::Dir(DirDriver::new(storage_dir)),
            DriverChoice::Btrfs => Self::Btrfs(BtrfsDriver::new(storage_dir, pool_size)),
            DriverChoice::Auto => return Ok(Self::auto(storage_dir, pool_size).await),
        };
        chosen.prepare().await?;
        info!(driver = chosen.name(), root = %chosen.root().display(), "storage ready");
        Ok(chosen)
    }

    async fn auto(storage_dir: &Path, pool_size: u64) -> Self {
        let dir = DirDriver::new(storage_dir);
        if dir.has_instances() {
            info!("dir instances exist; keeping the dir storage driver");
        } else {
            let btrfs = BtrfsDriver::new(storage_dir, pool_size);
            match btrfs.prepare().await {
                Ok(()) => {
                    info!(root = %btrfs.root().display(), "storage ready: btrfs");
                    return Self::Btrfs(btrfs);
                }
                Err(e) => {
                    warn!(error = %crate::error_chain(&e), "btrfs storage unavailable; using dir")
                }
            }
        }
        let driver = Self::Dir(dir);
        if let Err(e) = driver.prepare().await {
            warn!(error = %crate::error_chain(&e), "preparing dir storage failed");
        }
        driver
    }

    /// Sets the driver up (idempotent): directories, and for btrfs the pool and its quotas.
    pub async fn prepare(&self) -> Result<(), StorageError> {
        match self {
            Self::Dir(d) => Ok(d.prepare().await?),
            Self::Btrfs(b) => Ok(b.prepare().await?),
        }
    }

    /// A new rootfs for `instance` from `image`, with `disk_limit` bytes if given.
    pub async fn clone_image(
        &self,
        image: &ImageTree,
        instance: &str,
        disk_limit: Option<u64>,
    ) -> Result<PathBuf, StorageError> {
        check_name(instance)?;
        match self {
            Self::Dir(d) => Ok(d.clone_image(image, instance, disk_limit).await?),
            Self::Btrfs(b) => Ok(b.clone_image(image, instance, disk_limit).await?),
        }
    }

    /// Removes the instance's rootfs and its snapshots; absent is fine.
    pub async fn destroy(&self, instance: &str) -> Result<(), StorageError> {
        check_name(instance)?;
        self.delete_all_snapshots(instance).await?;
        match self {
            Self::Dir(d) => Ok(d.destroy(instance).await?),
            Self::Btrfs(b) => Ok(b.destroy(instance).await?),
        }
    }

    /// The instance's rootfs path (whether or not it exists).
    pub fn instance_path(&self, instance: &str) -> PathBuf {
        match self {
            Self::Dir(d) => d.instance_path(instance),
            Self::Btrfs(b) => b.instance_path(instance),
        }
    }

    pub async fn usage(&self, instance: &str) -> Result<DiskUsage, StorageError> {
        check_name(instance)?;
        match self {
            Self::Dir(d) => Ok(d.usage(instance).await?),
            Self::Btrfs(b) => Ok(b.usage(instance).await?),
        }
    }

    /// Every instance's usage in one go where the driver can (btrfs with quotas: one qgroup
    /// listing); `None`: ask [`usage`](Self::usage) per instance.
    pub async fn usage_all(
        &self,
    ) -> Result<Option<std::collections::HashMap<String, DiskUsage>>, StorageError> {
        match self {
            Self::Dir(_) => Ok(None),
            Self::Btrfs(b) => Ok(b.usage_all().await?),
        }
    }

    /// Limits the instance's disk to `bytes`; writes past it fail inside (btrfs only).
    pub async fn set_disk_limit(&self, instance: &str, bytes: u64) -> Result<(), StorageError> {
        check_name(instance)?;
        match self {
            Self::Dir(_) => Err(DirError::NoDiskLimit.into()),
            Self::Btrfs(b) => Ok(b.set_disk_limit(instance, Some(bytes)).await?),
        }
    }

    /// Removes the instance's disk limit.
    pub async fn clear_disk_limit(&self, instance: &str) -> Result<(), StorageError> {
        check_name(instance)?;
        match self {
            Self::Dir(_) => Ok(()),
            Self::Btrfs(b) => Ok(b.set_disk_limit(instance, None).await?),
        }
    }

    /// `Err` with the reason when this driver cannot limit disk size.
    pub fn disk_limit_supported(&self) -> Result<(), String> {
        match self {
            Self::Dir(_) => Err(DirError::NoDiskLimit.to_string()),
            Self::Btrfs(_) => Ok(()),
        }
    }

    /// `(used, free)` bytes of the storage pool.
    pub async fn pool_usage(&self) -> Result<(u64, u64), StorageError> {
        match self {
            Self::Dir(d) => Ok(d.pool_usage()?),
            Self::Btrfs(b) => Ok(b.pool_usage()?),
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            Self::Dir(_) => "dir",
            Self::Btrfs(_) => "btrfs",
        }
    }

    /// The directory holding the driver's images and instances.
    pub fn root(&self) -> &Path {
        match self {
            Self::Dir(d) => d.root(),
            Self::Btrfs(b) => b.root(),
        }
    }

    /// Unmounts a loop-backed pool (its loop device detaches with it). The daemon does not call
    /// this (instances keep running on the pool); tests and uninstall do.
    pub async fn teardown(&self) -> Result<(), StorageError> {
        match self {
            Self::Dir(_) => Ok(()),
            Self::Btrfs(b) => Ok(b.teardown().await?),
        }
    }
}

fn check_name(instance: &str) -> Result<(), StorageError> {
    InstanceName::parse(instance)
        .map(|_| ())
        .map_err(|_| StorageError::BadName(instance.to_owned()))
}
