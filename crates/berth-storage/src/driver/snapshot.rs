//! Instance snapshots in the storage pool: `snapshots/<instance>/<snap>` beside
//! `instances/<instance>`. On btrfs a snapshot is a read-only subvolume snapshot (instant,
//! copy-on-write); on `dir` it is a full copy. Restoring swaps a fresh copy of the snapshot in
//! place of the rootfs (the old one is moved aside first, so a crash leaves one or the other).

use std::path::{Path, PathBuf};

use tracing::info;

use super::btrfs::{btrfs, is_subvolume};
use super::dir::DirError;
use super::{StorageDriver, StorageError, check_name};
use crate::cleanup::RemoveOnDrop;
use crate::fsio::io;
use crate::tree::{self, remove_tree};

impl StorageDriver {
    fn snapshots_dir(&self, instance: &str) -> PathBuf {
        self.root().join("snapshots").join(instance)
    }

    /// Where snapshot `snap` of `instance` lives (whether or not it exists).
    pub fn snapshot_path(&self, instance: &str, snap: &str) -> PathBuf {
        self.snapshots_dir(instance).join(snap)
    }

    /// Takes snapshot `snap` of `instance`'s rootfs. The caller makes the copy consistent
    /// (freezes a running guest, and may thaw it as soon as this returns).
    pub async fn create_snapshot(&self, instance: &str, snap: &str) -> Result<(), StorageError> {
        check_name(instance)?;
        check_name(snap)?;
        let source = self.instance_path(instance);
        let target = self.snapshot_path(instance, snap);
        if std::fs::symlink_metadata(&target).is_ok() {
            return Err(StorageError::SnapshotExists(snap.to_owned()));
        }
        if std::fs::symlink_metadata(&source).is_err() {
            return Err(StorageError::NoRootfs(instance.to_owned()));
        }
        let dir = self.snapshots_dir(instance);
        std::fs::create_dir_all(&dir).map_err(|e| DirError::from(io("create", &dir)(e)))?;
        match self {
            Self::Btrfs(_) => {
                btrfs(
                    &[&"subvolume", &"snapshot", &"-r", &source, &target],
                    &target,
                )
                .await?;
            }
            Self::Dir(_) => copy_into_place(&source, &target).await?,
        }
        info!(instance, snapshot = snap, "snapshot taken");
        Ok(())
    }

    /// The bytes snapshot `snap` refers to (what restoring it would bring back).
    pub async fn snapshot_size(&self, instance: &str, snap: &str) -> Result<u64, StorageError> {
        check_name(instance)?;
        check_name(snap)?;
        let path = self.snapshot_path(instance, snap);
        if std::fs::symlink_metadata(&path).is_err() {
            return Err(StorageError::NoSnapshot(snap.to_owned()));
        }
        Ok(tokio::task::spawn_blocking(move || tree::disk_usage(&path))
            .await
            .map_err(DirError::from)?
            .map_err(DirError::from)?)
    }

    /// Replaces `instance`'s rootfs with a writable copy of `snap`; `disk_limit` is applied
    /// to the new rootfs. The instance must be stopped.
    pub async fn restore_snapshot(
        &self,
        instance: &str,
        snap: &str,
        disk_limit: Option<u64>,
    ) -> Result<(), StorageError> {
        check_name(instance)?;
        check_name(snap)?;
        let source = self.snapshot_path(instance, snap);
        if std::fs::symlink_metadata(&source).is_err() {
            return Err(StorageError::NoSnapshot(snap.to_owned()));
        }
        let live = self.instance_path(instance);
        let parent = live.parent().map(Path::to_owned).unwrap_or_default();
        let unique = uuid::Uuid::new_v4().simple().to_string();
        let fresh = parent.join(format!(".{instance}.restore-{unique}"));
        let old = parent.join(format!(".{instance}.old-{unique}"));
        match self {
            Self::Btrfs(_) => {
                btrfs(&[&"subvolume", &"snapshot", &source, &fresh], &fresh).await?;
            }
            Self::Dir(_) => copy_into_place(&source, &fresh).await?,
        }
        let had_live = std::fs::symlink_metadata(&live).is_ok();
        if had_live {
            std::fs::rename(&live, &old).map_err(|e| DirError::from(io("move aside", &live)(e)))?;
        }
        if let Err(e) = std::fs::rename(&fresh, &live) {
            if had_live {
                let _ = std::fs::rename(&old, &live);
            }
            return Err(DirError::from(io("rename into place", &fresh)(e)).into());
        }
        if let Some(bytes) = disk_limit {
            self.set_disk_limit(instance, bytes).await?;
        }
        if had_live {
            self.remove_tree_or_subvolume(old).await?;
        }
        info!(instance, snapshot = snap, "snapshot restored");
        Ok(())
    }

    /// Deletes snapshot `snap` of `instance`; absent is fine.
    pub async fn delete_snapshot(&self, instance: &str, snap: &str) -> Result<(), StorageError> {
        check_name(instance)?;
        check_name(snap)?;
        let path = self.snapshot_path(instance, snap);
        if std::fs::symlink_metadata(&path).is_err() {
            return Ok(());
        }
        self.remove_tree_or_subvolume(path).await?;
        info!(instance, snapshot = snap, "snapshot deleted");
        Ok(())
    }

    /// Deletes every snapshot of `instance` (with the instance).
    pub async fn delete_all_snapshots(&self, instance: &str) -> Result<(), StorageError> {
        check_name(instance)?;
        let dir = self.snapshots_dir(instance);
        let Ok(entries) = std::fs::read_dir(&dir) else {
            return Ok(());
        };
        for entry in entries.flatten() {
            self.remove_tree_or_subvolume(entry.path()).await?;
        }
        std::fs::remove_dir(&dir).map_err(|e| DirError::from(io("remove", &dir)(e)))?;
        Ok(())
    }

    async fn remove_tree_or_subvolume(&self, path: PathBuf) -> Result<(), StorageError> {
        if matches!(self, Self::Btrfs(_)) && is_subvolume(&path) {
            // A read-only snapshot must be made writable before its files could be removed
            // one by one; deleting the subvolume needs neither.
            btrfs(&[&"subvolume", &"delete", &path], &path).await?;
            return Ok(());
        }
        tokio::task::spawn_blocking(move || remove_tree(&path))
            .await
            .map_err(DirError::from)?
            .map_err(DirError::from)?;
        Ok(())
    }
}

impl StorageDriver {
    /// An empty snapshot `snap` of `instance` to unpack a backup's snapshot into; made
    /// read-only by [`StorageDriver::seal_snapshot`] once filled.
    pub async fn create_empty_snapshot(
        &self,
        instance: &str,
        snap: &str,
    ) -> Result<PathBuf, StorageError> {
        check_name(instance)?;
        check_name(snap)?;
        let path = self.snapshot_path(instance, snap);
        if std::fs::symlink_metadata(&path).is_ok() {
            return Err(StorageError::SnapshotExists(snap.to_owned()));
        }
        let dir = self.snapshots_dir(instance);
        std::fs::create_dir_all(&dir).map_err(|e| DirError::from(io("create", &dir)(e)))?;
        match self {
            Self::Btrfs(_) => {
                btrfs(&[&"subvolume", &"create", &path], &path).await?;
            }
            Self::Dir(_) => {
                std::fs::create_dir(&path).map_err(|e| DirError::from(io("create", &path)(e)))?;
            }
        }
        Ok(path)
    }

    /// Makes an unpacked snapshot read-only, like a taken one (btrfs; a no-op on `dir`).
    pub async fn seal_snapshot(&self, instance: &str, snap: &str) -> Result<(), StorageError> {
        let path = self.snapshot_path(instance, snap);
        if let Self::Btrfs(_) = self {
            btrfs(&[&"property", &"set", &"-ts", &path, &"ro", &"true"], &path).await?;
        }
        Ok(())
    }

    /// An empty root filesystem for `instance` (to unpack a backup into): a subvolume on
    /// btrfs, a directory on `dir`.
    pub async fn create_empty(&self, instance: &str) -> Result<PathBuf, StorageError> {
        check_name(instance)?;
        let path = self.instance_path(instance);
        if std::fs::symlink_metadata(&path).is_ok() {
            return Err(StorageError::NoRootfs(format!(
                "{instance} (it already has one)"
            )));
        }
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| DirError::from(io("create", parent)(e)))?;
        }
        match self {
            Self::Btrfs(_) => {
                btrfs(&[&"subvolume", &"create", &path], &path).await?;
            }
            Self::Dir(_) => {
                std::fs::create_dir(&path).map_err(|e| DirError::from(io("create", &path)(e)))?;
            }
        }
        std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .map_err(|e| DirError::from(io("chmod", &path)(e)))?;
        Ok(path)
    }
}

/// Copies `source` to a temporary sibling of `target`, then renames it into place.
async fn copy_into_place(source: &Path, target: &Path) -> Result<(), DirError> {
    let parent = target.parent().map(Path::to_owned).unwrap_or_default();
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = parent.join(format!(".{name}.tmp-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir(&tmp).map_err(io("create", &tmp))?;
    let guard = RemoveOnDrop::new(tmp.clone(), "a failed snapshot copy");
    super::copy_tree(source, &tmp)
        .await
        .map_err(DirError::Copy)?;
    std::fs::rename(&tmp, target).map_err(io("rename into place", &tmp))?;
    guard.disarm();
    Ok(())
}
