//! The `volume` driver: every instance is a filesystem of its own — an ext4 image file in a
//! reflink-capable pool, loop-mounted at `instances/<name>` — so `statfs` inside the guest (its
//! `df -h /`) reports the instance's disk limit as the size and its files as used, and a full
//! disk is ENOSPC. Each cached image is imported once into a minimal template image
//! (`images/<key>.ext4`), resized once per disk size (`images/<key>@<bytes>.ext4`); an instance
//! is a reflink copy of the sized template (one `FICLONE`, milliseconds whatever the image size)
//! plus a loop device and a mount.
//!
//! The pool is the storage directory itself when its filesystem can reflink (xfs, btrfs), else
//! a sparse xfs file (`volume.img`) mounted at `volume/`. Volumes stay mounted while their
//! instance exists: berthd's start-up ([`VolumeDriver::prepare`]) mounts any that are not (after
//! a reboot), and a daemon restart leaves running guests' mounts alone.

mod activate;
pub mod ext4;
mod snapshot;
mod template;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use tokio::sync::Mutex;
use tracing::{info, warn};

use super::DiskUsage;
use super::pool::{self, PoolError, PoolFs};
use crate::ImageTree;
use crate::cmd::CmdError;
use crate::fsio::io;
use crate::loopdev::LoopError;
pub use ext4::Ext4Error;
pub use snapshot::SnapshotView;

/// Disk size of an instance launched without a disk limit.
pub const DEFAULT_VOLUME_SIZE: u64 = 10 << 30;

#[derive(Debug, thiserror::Error)]
pub enum VolumeError {
    #[error(transparent)]
    Pool(#[from] PoolError),
    #[error(transparent)]
    Io(#[from] crate::fsio::PathIoError),
    #[error(transparent)]
    Loop(#[from] LoopError),
    #[error(transparent)]
    Ext4(#[from] Ext4Error),
    #[error("copying the image into its template failed")]
    Copy(#[source] CmdError),
    #[error("cannot {action} {}", path.display())]
    Mount {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("instance {0:?} already has a disk")]
    Exists(String),
    #[error("instance {0:?} has no disk")]
    Missing(String),
    #[error(
        "the disk of {0} is in use (its guest is running, or another mount namespace still \
         holds it); stop the instance and try again"
    )]
    InUse(String),
    #[error("the disk usage task died")]
    Join(#[from] tokio::task::JoinError),
}

#[derive(Debug)]
pub struct VolumeDriver {
    storage_dir: PathBuf,
    root: PathBuf,
    pool_file: PathBuf,
    pool_size: u64,
    default_size: u64,
    /// The storage directory's own filesystem can reflink: no pool file.
    native: bool,
    import: Mutex<()>,
}

impl VolumeDriver {
    /// A driver under `storage_dir`; `pool_size` sizes a new pool file, `default_size` is the
    /// disk of an instance without a limit.
    pub fn new(storage_dir: &Path, pool_size: u64, default_size: u64) -> Self {
        Self {
            storage_dir: storage_dir.to_owned(),
            root: storage_dir.join("volume"),
            pool_file: storage_dir.join("volume.img"),
            pool_size,
            default_size,
            native: activate::can_reflink(storage_dir),
            import: Mutex::new(()),
        }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Whether the pool is the storage directory's own filesystem (no pool file).
    pub fn is_native(&self) -> bool {
        self.native
    }

    /// Whether a pool of this driver exists under the storage directory (so `auto` keeps it).
    pub fn exists(storage_dir: &Path) -> bool {
        storage_dir.join("volume.img").exists() || storage_dir.join("volume/instances").is_dir()
    }

    /// Where the instance's filesystem is mounted: its rootfs.
    pub fn instance_path(&self, instance: &str) -> PathBuf {
        self.root.join("instances").join(instance)
    }

    /// The instance's image file.
    pub fn image_path(&self, instance: &str) -> PathBuf {
        self.root.join("instances").join(format!("{instance}.ext4"))
    }

    pub fn default_size(&self) -> u64 {
        self.default_size
    }

    /// Sets the pool up and mounts every instance's volume (idempotent).
    pub async fn prepare(&self) -> Result<(), VolumeError> {
        if self.native {
            std::fs::create_dir_all(&self.root).map_err(io("create", &self.root))?;
        } else {
            std::fs::create_dir_all(&self.storage_dir).map_err(io("create", &self.storage_dir))?;
            pool::mount(&self.pool_file, &self.root, self.pool_size, PoolFs::Xfs).await?;
        }
        for sub in ["images", "instances", "snapshots"] {
            let dir = self.root.join(sub);
            std::fs::create_dir_all(&dir).map_err(io("create", &dir))?;
        }
        self.sweep();
        self.activate_all();
        Ok(())
    }

    /// A new volume for `instance` from `image`: `disk_limit` bytes (or the default size) that
    /// `statfs` will report.
    pub async fn clone_image(
        &self,
        image: &ImageTree,
        instance: &str,
        disk_limit: Option<u64>,
    ) -> Result<PathBuf, VolumeError> {
        let size = disk_limit.unwrap_or(self.default_size);
        let sized = self.sized_template(image, size).await?;
        let target = self.image_path(instance);
        if std::fs::symlink_metadata(&target).is_ok() {
            return Err(VolumeError::Exists(instance.to_owned()));
        }
        let tmp = self.temp_image("instances", instance);
        activate::reflink(&sized, &tmp)?;
        std::fs::rename(&tmp, &target).map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            io("rename into place", &tmp)(e)
        })?;
        match self.activate(instance) {
            Ok(path) => {
                info!(instance, image = %image.label, size, "cloned (volume)");
                Ok(path)
            }
            Err(e) => {
                let _ = self.destroy(instance).await;
                Err(e)
            }
        }
    }

    fn temp_image(&self, dir: &str, name: &str) -> PathBuf {
        let unique = uuid::Uuid::new_v4().simple();
        self.root
            .join(dir)
            .join(format!(".{name}.tmp-{unique}.ext4"))
    }

    /// Unmounts and removes the instance's volume; absent is fine. Its snapshots go first (the
    /// caller's [`crate::StorageDriver::destroy`]).
    pub async fn destroy(&self, instance: &str) -> Result<(), VolumeError> {
        let mount_point = self.instance_path(instance);
        let image = self.image_path(instance);
        activate::unmount_all(&mount_point)?;
        if image.exists() && !activate::wait_detached(&image).await? {
            warn!(
                instance,
                "another mount namespace still holds the disk; its space is freed when it lets go"
            );
        }
        match std::fs::remove_file(&image) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(io("remove", &image)(e).into());
            }
            _ => {}
        }
        match std::fs::remove_dir(&mount_point) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(io("remove", &mount_point)(e).into());
            }
            _ => {}
        }
        info!(instance, "destroyed (volume)");
        Ok(())
    }

    /// What the instance's filesystem reports: its size (the limit) and what its files use.
    pub async fn usage(&self, instance: &str) -> Result<DiskUsage, VolumeError> {
        let root = self.instance_path(instance);
        if !activate::is_mounted(&root) {
            return Err(VolumeError::Missing(instance.to_owned()));
        }
        let (size, free) = ext4::statfs_blocks(&root)?;
        Ok(DiskUsage {
            used: (size - free.min(size)) * ext4::BLOCK,
            exclusive: None,
            limit: Some(size * ext4::BLOCK),
        })
    }

    /// Every mounted instance's usage (one `statfs` each).
    pub async fn usage_all(&self) -> Result<HashMap<String, DiskUsage>, VolumeError> {
        let mut all = HashMap::new();
        for name in self.instance_names() {
            if let Ok(usage) = self.usage(&name).await {
                all.insert(name, usage);
            }
        }
        Ok(all)
    }

    /// The names of the instances with a volume.
    fn instance_names(&self) -> Vec<String> {
        let dir = self.root.join("instances");
        let Ok(entries) = std::fs::read_dir(&dir) else {
            return Vec::new();
        };
        entries
            .flatten()
            .filter_map(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                let stem = name.strip_suffix(".ext4")?;
                (!stem.starts_with('.')).then(|| stem.to_owned())
            })
            .collect()
    }

    /// Sets the instance's disk to `bytes`: grown in place while mounted where the kernel lets
    /// berthd (online resize needs CAP_SYS_RESOURCE), else unmounted, resized and mounted again
    /// — which needs its guest stopped ([`VolumeError::InUse`] otherwise).
    pub async fn set_disk_limit(&self, instance: &str, bytes: u64) -> Result<(), VolumeError> {
        let root = self.instance_path(instance);
        let image = self.image_path(instance);
        if !image.exists() {
            return Err(VolumeError::Missing(instance.to_owned()));
        }
        let target = bytes / ext4::BLOCK;
        if activate::is_mounted(&root) {
            let (size, _) = ext4::statfs_blocks(&root)?;
            if size == target {
                return Ok(());
            }
            if target > size
                && let Some(device) = loopdev_of(&image)
            {
                match ext4::grow_online(&root, &device, &image, bytes) {
                    Ok(()) => {
                        info!(instance, bytes, "disk grown online");
                        return Ok(());
                    }
                    Err(e) => info!(instance, error = %crate::error_chain(&e), "growing offline"),
                }
            }
        }
        self.take_offline(instance).await?;
        let resized = ext4::resize_offline(&image, bytes).await;
        self.activate(instance)?;
        resized?;
        info!(instance, bytes, "disk resized");
        Ok(())
    }

    /// `(used, free)`; a pool file's free space is capped by what its host filesystem has left.
    pub fn pool_usage(&self) -> Result<(u64, u64), VolumeError> {
        let (used, free) = pool::fs_usage(&self.root).map_err(io("inspect", &self.root))?;
        if self.native {
            return Ok((used, free));
        }
        let (_, host_free) =
            pool::fs_usage(&self.storage_dir).map_err(io("inspect", &self.storage_dir))?;
        Ok((used, free.min(host_free)))
    }

    /// Unmounts every volume and the pool (tests, uninstall; the daemon never does).
    pub async fn teardown(&self) -> Result<(), VolumeError> {
        for mount in crate::mounts::read().into_iter().rev() {
            if mount.mount_point.starts_with(&self.root) && mount.mount_point != self.root {
                activate::unmount_all(&mount.mount_point)?;
            }
        }
        if !self.native {
            pool::unmount(&self.pool_file, &self.root).await?;
        }
        Ok(())
    }
}

/// The loop device `image` is attached to, if any.
fn loopdev_of(image: &Path) -> Option<PathBuf> {
    crate::loopdev::attached_to(image).ok()?.into_iter().next()
}
