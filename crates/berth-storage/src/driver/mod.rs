//! Instance storage: where each instance's rootfs lives and how it is cloned from a cached
//! image. One module per driver; [`StorageDriver`] is the closed set the daemon holds, and
//! answers every question itself (no caller matches on which driver it is).
//!
//! Layout under the storage directory (`<data_dir>/storage`):
//! - `volume.img` mounted at `volume/` — the `volume` driver's xfs pool (or `volume/` a plain
//!   directory when the storage directory can reflink already): `images/<key>.ext4` templates,
//!   `instances/<name>.ext4` images mounted at `instances/<name>/`, `snapshots/<name>/<snap>.ext4`;
//! - `dir/instances/<name>/` — the `dir` driver (plain copies; reflinks where the fs has them);
//! - `btrfs.img` mounted at `btrfs/` — the `btrfs` driver's loop-backed pool, unless the storage
//!   directory is on btrfs already, when `btrfs/` is a plain directory on it; inside it
//!   `images/<key>` (read-only subvolumes) and `instances/<name>` (their snapshots).

use std::path::{Path, PathBuf};

use berth_types::InstanceName;
use tracing::info;

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
mod choice;
pub mod dir;
mod pool;
mod qgroup;
mod snapshot;
pub mod volume;

pub use btrfs::{BtrfsDriver, BtrfsError};
pub use choice::DriverChoice;
pub use dir::{DirDriver, DirError};
pub use volume::{DEFAULT_VOLUME_SIZE, SnapshotView, VolumeDriver, VolumeError};

/// Size of a new loop-backed btrfs pool file (sparse: it takes only what is written).
pub const DEFAULT_POOL_SIZE: u64 = 100 << 30;

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("storage.driver {0:?} is unknown; use auto, volume, btrfs or dir")]
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
    #[error(transparent)]
    Volume(#[from] VolumeError),
}

impl StorageError {
    /// The reason when the request itself cannot be met (a disk too small for its files, a
    /// disk in use that must be stopped first): the caller's to fix, not a server fault.
    pub fn refusal(&self) -> Option<String> {
        match self {
            Self::Volume(
                e @ (VolumeError::InUse(_) | VolumeError::Ext4(volume::Ext4Error::TooSmall { .. })),
            ) => Some(e.to_string()),
            _ => None,
        }
    }
}

/// Sizes of what a driver creates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolOptions {
    /// A new loop-backed pool file (sparse: it takes only what is written).
    pub pool_size: u64,
    /// The disk of an instance without a disk limit (`volume`, whose instances always have a
    /// size).
    pub volume_size: u64,
}

impl Default for PoolOptions {
    fn default() -> Self {
        Self {
            pool_size: DEFAULT_POOL_SIZE,
            volume_size: DEFAULT_VOLUME_SIZE,
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
    Volume(VolumeDriver),
}

impl StorageDriver {
    /// Picks the driver for `driver` ("auto", "volume", "btrfs", "dir") under `storage_dir`
    /// and prepares it. `pool_size` sizes a new loop-backed pool.
    pub async fn open(
        driver: &str,
        storage_dir: &Path,
        pool_size: u64,
    ) -> Result<Self, StorageError> {
        let options = PoolOptions {
            pool_size,
            ..PoolOptions::default()
        };
        Self::open_with(driver, storage_dir, options).await
    }

    /// [`open`](Self::open) with every size given.
    pub async fn open_with(
        driver: &str,
        storage_dir: &Path,
        options: PoolOptions,
    ) -> Result<Self, StorageError> {
        let chosen = match DriverChoice::parse(driver)? {
            DriverChoice::Dir => Self::Dir(DirDriver::new(storage_dir)),
            DriverChoice::Btrfs => Self::Btrfs(BtrfsDriver::new(storage_dir, options.pool_size)),
            DriverChoice::Volume => Self::Volume(VolumeDriver::new(
                storage_dir,
                options.pool_size,
                options.volume_size,
            )),
            DriverChoice::Auto => choice::auto(storage_dir, options).await,
        };
        if !matches!(DriverChoice::parse(driver)?, DriverChoice::Auto) {
            chosen.prepare().await?;
        }
        info!(driver = chosen.name(), root = %chosen.root().display(), "storage ready");
        Ok(chosen)
    }

    /// Sets the driver up (idempotent): directories, the pool (btrfs with its quotas, volume's
    /// xfs), and for volume every instance's mount.
    pub async fn prepare(&self) -> Result<(), StorageError> {
        match self {
            Self::Dir(d) => Ok(d.prepare().await?),
            Self::Btrfs(b) => Ok(b.prepare().await?),
            Self::Volume(v) => Ok(v.prepare().await?),
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
            Self::Volume(v) => Ok(v.clone_image(image, instance, disk_limit).await?),
        }
    }

    /// Makes sure the instance's rootfs is there to use (mounts a volume that is not mounted;
    /// nothing to do for dir and btrfs) and returns it. Idempotent and cheap: call it before
    /// starting a guest or writing into a stopped one's files.
    pub fn activate(&self, instance: &str) -> Result<PathBuf, StorageError> {
        check_name(instance)?;
        match self {
            Self::Volume(v) => Ok(v.activate(instance)?),
            _ => Ok(self.instance_path(instance)),
        }
    }

    /// Removes the instance's rootfs and its snapshots; absent is fine.
    pub async fn destroy(&self, instance: &str) -> Result<(), StorageError> {
        check_name(instance)?;
        self.delete_all_snapshots(instance).await?;
        match self {
            Self::Dir(d) => Ok(d.destroy(instance).await?),
            Self::Btrfs(b) => Ok(b.destroy(instance).await?),
            Self::Volume(v) => Ok(v.destroy(instance).await?),
        }
    }

    /// The instance's rootfs path (whether or not it exists).
    pub fn instance_path(&self, instance: &str) -> PathBuf {
        match self {
            Self::Dir(d) => d.instance_path(instance),
            Self::Btrfs(b) => b.instance_path(instance),
            Self::Volume(v) => v.instance_path(instance),
        }
    }

    pub async fn usage(&self, instance: &str) -> Result<DiskUsage, StorageError> {
        check_name(instance)?;
        match self {
            Self::Dir(d) => Ok(d.usage(instance).await?),
            Self::Btrfs(b) => Ok(b.usage(instance).await?),
            Self::Volume(v) => Ok(v.usage(instance).await?),
        }
    }

    /// Every instance's usage in one go where the driver can (btrfs with quotas: one qgroup
    /// listing; volume: one `statfs` each); `None`: ask [`usage`](Self::usage) per instance.
    pub async fn usage_all(
        &self,
    ) -> Result<Option<std::collections::HashMap<String, DiskUsage>>, StorageError> {
        match self {
            Self::Dir(_) => Ok(None),
            Self::Btrfs(b) => Ok(b.usage_all().await?),
            Self::Volume(v) => Ok(Some(v.usage_all().await?)),
        }
    }

    /// Limits the instance's disk to `bytes`; writes past it fail inside (ENOSPC on volume,
    /// EDQUOT on btrfs). On volume this resizes the instance's filesystem: growing works
    /// while it runs where the kernel lets berthd resize online, shrinking needs it stopped
    /// ([`StorageError::refusal`] says so).
    pub async fn set_disk_limit(&self, instance: &str, bytes: u64) -> Result<(), StorageError> {
        check_name(instance)?;
        match self {
            Self::Dir(_) => Err(DirError::NoDiskLimit.into()),
            Self::Btrfs(b) => Ok(b.set_disk_limit(instance, Some(bytes)).await?),
            Self::Volume(v) => Ok(v.set_disk_limit(instance, bytes).await?),
        }
    }

    /// Removes the instance's disk limit (a volume keeps its size: it always has one).
    pub async fn clear_disk_limit(&self, instance: &str) -> Result<(), StorageError> {
        check_name(instance)?;
        match self {
            Self::Dir(_) | Self::Volume(_) => Ok(()),
            Self::Btrfs(b) => Ok(b.set_disk_limit(instance, None).await?),
        }
    }

    /// `Err` with the reason when this driver cannot limit disk size.
    pub fn disk_limit_supported(&self) -> Result<(), String> {
        match self {
            Self::Dir(_) => Err(DirError::NoDiskLimit.to_string()),
            Self::Btrfs(_) | Self::Volume(_) => Ok(()),
        }
    }

    /// The disk an instance gets without a limit: `Some` where every instance has a size
    /// (volume), `None` where it may grow until the pool is full.
    pub fn default_disk(&self) -> Option<u64> {
        match self {
            Self::Volume(v) => Some(v.default_size()),
            _ => None,
        }
    }

    /// `(used, free)` bytes of the storage pool.
    pub async fn pool_usage(&self) -> Result<(u64, u64), StorageError> {
        match self {
            Self::Dir(d) => Ok(d.pool_usage()?),
            Self::Btrfs(b) => Ok(b.pool_usage()?),
            Self::Volume(v) => Ok(v.pool_usage()?),
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            Self::Dir(_) => "dir",
            Self::Btrfs(_) => "btrfs",
            Self::Volume(_) => "volume",
        }
    }

    /// The directory holding the driver's images and instances.
    pub fn root(&self) -> &Path {
        match self {
            Self::Dir(d) => d.root(),
            Self::Btrfs(b) => b.root(),
            Self::Volume(v) => v.root(),
        }
    }

    /// Unmounts a loop-backed pool (its loop device detaches with it) and, for volume, every
    /// instance's filesystem. The daemon does not call this (instances keep running on the
    /// pool); tests and uninstall do.
    pub async fn teardown(&self) -> Result<(), StorageError> {
        match self {
            Self::Dir(_) => Ok(()),
            Self::Btrfs(b) => Ok(b.teardown().await?),
            Self::Volume(v) => Ok(v.teardown().await?),
        }
    }
}

fn check_name(instance: &str) -> Result<(), StorageError> {
    InstanceName::parse(instance)
        .map(|_| ())
        .map_err(|_| StorageError::BadName(instance.to_owned()))
}
