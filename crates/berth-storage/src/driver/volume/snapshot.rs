//! Snapshots of volumes: `snapshots/<instance>/<snap>.ext4`, a reflink copy of the instance's
//! image taken while its filesystem is frozen (so the copy is a clean filesystem). Restoring
//! swaps a reflink copy of the snapshot in for the image, resized to the instance's disk. A
//! backup reads a snapshot through a read-only mount ([`SnapshotView`]); an imported one is
//! unpacked into a fresh mounted filesystem, then sealed.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use tracing::{info, warn};

use super::activate::{self, is_mounted, mount_image, unmount_all, wait_detached};
use super::{VolumeDriver, VolumeError, ext4};
use crate::fsio::io;

/// A snapshot's tree, readable for as long as this lives: a plain directory, or a read-only
/// mount of a volume snapshot that is unmounted when this is dropped.
#[derive(Debug)]
pub struct SnapshotView {
    path: PathBuf,
    mounted: bool,
}

impl SnapshotView {
    pub(crate) fn plain(path: PathBuf) -> Self {
        Self {
            path,
            mounted: false,
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for SnapshotView {
    fn drop(&mut self) {
        if !self.mounted {
            return;
        }
        if let Err(e) = unmount_all(&self.path).and_then(|()| {
            std::fs::remove_dir(&self.path).map_err(|e| io("remove", &self.path)(e).into())
        }) {
            warn!(view = %self.path.display(), error = %crate::error_chain(&e), "cannot remove a snapshot view; the next start sweeps it");
        }
    }
}

impl VolumeDriver {
    fn snapshots_dir(&self, instance: &str) -> PathBuf {
        self.root.join("snapshots").join(instance)
    }

    /// The image file of snapshot `snap`.
    pub fn snapshot_path(&self, instance: &str, snap: &str) -> PathBuf {
        self.snapshots_dir(instance).join(format!("{snap}.ext4"))
    }

    /// An imported snapshot while it is being unpacked: its image and mount point.
    fn incoming(&self, instance: &str, snap: &str) -> (PathBuf, PathBuf) {
        let dir = self.snapshots_dir(instance);
        (
            dir.join(format!(".{snap}.import.ext4")),
            dir.join(format!(".{snap}.import")),
        )
    }

    /// Copies the instance's image, frozen, to snapshot `snap` (which must not exist).
    pub fn create_snapshot(&self, instance: &str, snap: &str) -> Result<(), VolumeError> {
        let root = self.activate(instance)?;
        let dir = self.snapshots_dir(instance);
        std::fs::create_dir_all(&dir).map_err(io("create", &dir))?;
        let tmp = dir.join(format!(".{snap}.tmp-{}", uuid::Uuid::new_v4().simple()));
        let froze = ext4::freeze(&root)?;
        let copied = activate::reflink(&self.image_path(instance), &tmp);
        if froze {
            ext4::thaw(&root)?;
        }
        copied?;
        let target = self.snapshot_path(instance, snap);
        std::fs::rename(&tmp, &target).map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            io("rename into place", &tmp)(e)
        })?;
        Ok(())
    }

    /// Bytes the snapshot's image holds on the pool.
    pub fn snapshot_size(&self, instance: &str, snap: &str) -> Result<u64, VolumeError> {
        let path = self.snapshot_path(instance, snap);
        let meta = std::fs::metadata(&path).map_err(io("inspect", &path))?;
        Ok(meta.blocks() * 512)
    }

    /// Puts snapshot `snap` in place of the instance's disk, sized to `disk_limit` (or the
    /// disk's current size). The guest must be stopped.
    pub async fn restore_snapshot(
        &self,
        instance: &str,
        snap: &str,
        disk_limit: Option<u64>,
    ) -> Result<(), VolumeError> {
        let image = self.image_path(instance);
        let size = match disk_limit {
            Some(bytes) => bytes,
            None => ext4::superblock(&image)?.data_bytes(),
        };
        let fresh = self.temp_image("instances", instance);
        activate::reflink(&self.snapshot_path(instance, snap), &fresh)?;
        let ready = async {
            ext4::resize_offline(&fresh, size).await?;
            self.take_offline(instance).await
        }
        .await;
        if let Err(e) = ready {
            let _ = std::fs::remove_file(&fresh);
            return Err(e);
        }
        let swapped = std::fs::rename(&fresh, &image).map_err(io("rename into place", &fresh));
        if swapped.is_err() {
            let _ = std::fs::remove_file(&fresh);
        }
        self.activate(instance)?;
        swapped?;
        Ok(())
    }

    /// Deletes snapshot `snap` (and what an interrupted import of it left); absent is fine.
    pub fn delete_snapshot(&self, instance: &str, snap: &str) -> Result<(), VolumeError> {
        let (image, mount_point) = self.incoming(instance, snap);
        unmount_all(&mount_point)?;
        for path in [self.snapshot_path(instance, snap), image] {
            match std::fs::remove_file(&path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    return Err(io("remove", &path)(e).into());
                }
                _ => {}
            }
        }
        match std::fs::remove_dir(&mount_point) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                Err(io("remove", &mount_point)(e).into())
            }
            _ => Ok(()),
        }
    }

    /// Deletes every snapshot of `instance`.
    pub fn delete_all_snapshots(&self, instance: &str) -> Result<(), VolumeError> {
        let dir = self.snapshots_dir(instance);
        if !dir.exists() {
            return Ok(());
        }
        for mount in crate::mounts::read().into_iter().rev() {
            if mount.mount_point.starts_with(&dir) {
                unmount_all(&mount.mount_point)?;
            }
        }
        crate::tree::remove_tree(&dir)?;
        Ok(())
    }

    /// A read-only view of snapshot `snap`'s files.
    pub fn snapshot_view(&self, instance: &str, snap: &str) -> Result<SnapshotView, VolumeError> {
        let image = self.snapshot_path(instance, snap);
        let view = self
            .snapshots_dir(instance)
            .join(format!(".view-{snap}-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir(&view).map_err(io("create", &view))?;
        if let Err(e) = mount_image(&image, &view, true) {
            let _ = std::fs::remove_dir(&view);
            return Err(e);
        }
        Ok(SnapshotView {
            path: view,
            mounted: true,
        })
    }

    /// An empty, mounted filesystem for snapshot `snap` to be unpacked into, as large as the
    /// instance's disk; [`VolumeDriver::seal_snapshot`] makes it a snapshot.
    pub async fn create_empty_snapshot(
        &self,
        instance: &str,
        snap: &str,
    ) -> Result<PathBuf, VolumeError> {
        let size = ext4::superblock(&self.image_path(instance))
            .map(|sb| sb.data_bytes())
            .unwrap_or(self.default_size)
            .max(self.default_size);
        let (image, mount_point) = self.incoming(instance, snap);
        std::fs::create_dir_all(&mount_point).map_err(io("create", &mount_point))?;
        new_filesystem(&image, size).await?;
        mount_image(&image, &mount_point, false)?;
        Ok(mount_point)
    }

    /// Unmounts an unpacked snapshot and puts it in place.
    pub async fn seal_snapshot(&self, instance: &str, snap: &str) -> Result<(), VolumeError> {
        let (image, mount_point) = self.incoming(instance, snap);
        unmount_all(&mount_point)?;
        if !wait_detached(&image).await? {
            return Err(VolumeError::InUse(format!("{instance} (snapshot {snap})")));
        }
        std::fs::rename(&image, self.snapshot_path(instance, snap))
            .map_err(io("rename into place", &image))?;
        std::fs::remove_dir(&mount_point).map_err(io("remove", &mount_point))?;
        info!(instance, snapshot = snap, "snapshot sealed");
        Ok(())
    }

    /// A new, empty, mounted volume for `instance` (to unpack a backup into).
    pub async fn create_empty(
        &self,
        instance: &str,
        disk_limit: Option<u64>,
    ) -> Result<PathBuf, VolumeError> {
        let image = self.image_path(instance);
        if std::fs::symlink_metadata(&image).is_ok() || is_mounted(&self.instance_path(instance)) {
            return Err(VolumeError::Exists(instance.to_owned()));
        }
        let tmp = self.temp_image("instances", instance);
        if let Err(e) = new_filesystem(&tmp, disk_limit.unwrap_or(self.default_size)).await {
            let _ = std::fs::remove_file(&tmp);
            return Err(e);
        }
        std::fs::rename(&tmp, &image).map_err(io("rename into place", &tmp))?;
        self.activate(instance)
    }
}

/// An empty ext4 image whose filesystem reports `bytes` as its size.
async fn new_filesystem(image: &Path, bytes: u64) -> Result<(), VolumeError> {
    ext4::mkfs(image, bytes / ext4::BLOCK).await?;
    ext4::resize_offline(image, bytes).await?;
    Ok(())
}
