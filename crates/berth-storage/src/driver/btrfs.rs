//! The `btrfs` driver: each cached image is imported once into a read-only subvolume
//! (`images/<key>`), and each instance is a writable snapshot of it (`instances/<name>`),
//! which takes milliseconds whatever the image size. Disk limits are qgroup limits on the
//! instance's subvolume (writes past them fail with EDQUOT inside).

use std::collections::HashMap;
use std::ffi::OsStr;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use tokio::sync::Mutex;
use tracing::{debug, info, warn};

use super::pool::{self, PoolError};
use super::{DiskUsage, qgroup};
use crate::ImageTree;
use crate::cleanup::{self, RemoveOnDrop};
use crate::cmd::{self, CmdError};
use crate::tree;

/// The inode number of every btrfs subvolume's root directory.
const SUBVOLUME_INO: u64 = 256;

#[derive(Debug, thiserror::Error)]
pub enum BtrfsError {
    #[error(transparent)]
    Pool(#[from] PoolError),
    #[error("instance {0:?} already has a rootfs")]
    Exists(String),
    #[error("instance {0:?} has no rootfs")]
    Missing(String),
    #[error(transparent)]
    Io(#[from] crate::fsio::PathIoError),
    #[error("btrfs failed on {}", path.display())]
    Tool {
        path: PathBuf,
        #[source]
        source: CmdError,
    },
    #[error("unexpected `btrfs qgroup show` output for {}: {output:?}", path.display())]
    Qgroup { path: PathBuf, output: String },
    #[error("the disk usage task died")]
    Join(#[from] tokio::task::JoinError),
}

use crate::fsio::io;

pub(super) fn tool(path: &Path) -> impl FnOnce(CmdError) -> BtrfsError {
    let path = path.to_owned();
    move |source| BtrfsError::Tool { path, source }
}

/// Runs `btrfs args…`; errors name `about`.
pub(super) async fn btrfs(
    args: &[&(dyn AsRef<OsStr> + Sync)],
    about: &Path,
) -> Result<String, BtrfsError> {
    let args = args.iter().map(|a| a.as_ref());
    cmd::run("btrfs", args).await.map_err(tool(about))
}

#[derive(Debug)]
pub struct BtrfsDriver {
    storage_dir: PathBuf,
    root: PathBuf,
    pool_file: PathBuf,
    pool_size: u64,
    /// The storage directory is on btrfs itself: no pool file.
    native: bool,
    import: Mutex<()>,
}

impl BtrfsDriver {
    pub fn new(storage_dir: &Path, pool_size: u64) -> Self {
        Self {
            storage_dir: storage_dir.to_owned(),
            root: storage_dir.join("btrfs"),
            pool_file: storage_dir.join("btrfs.img"),
            pool_size,
            native: pool::is_btrfs(storage_dir),
            import: Mutex::new(()),
        }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Whether the pool lives on the host's own btrfs (no loop file).
    pub fn is_native(&self) -> bool {
        self.native
    }

    pub fn instance_path(&self, instance: &str) -> PathBuf {
        self.root.join("instances").join(instance)
    }

    pub async fn prepare(&self) -> Result<(), BtrfsError> {
        if self.native {
            std::fs::create_dir_all(&self.root).map_err(io("create", &self.root))?;
        } else {
            std::fs::create_dir_all(&self.storage_dir).map_err(io("create", &self.storage_dir))?;
            pool::mount(&self.pool_file, &self.root, self.pool_size).await?;
            btrfs(&[&"quota", &"enable", &self.root], &self.root).await?;
        }
        for sub in ["images", "instances"] {
            let dir = self.root.join(sub);
            std::fs::create_dir_all(&dir).map_err(io("create", &dir))?;
        }
        self.sweep().await;
        if !self.native {
            self.sweep_stale_qgroups().await;
        }
        Ok(())
    }

    /// Destroys the qgroups of deleted subvolumes the kernel has finished cleaning (one still
    /// being cleaned is busy and goes on a later sweep).
    async fn sweep_stale_qgroups(&self) {
        let root = &self.root;
        if btrfs(&[&"filesystem", &"sync", root], root).await.is_err() {
            return;
        }
        let Ok(out) = btrfs(&[&"qgroup", &"show", &"--raw", root], root).await else {
            return;
        };
        for id in qgroup::stale(&out) {
            match btrfs(&[&"qgroup", &"destroy", &id, root], root).await {
                Ok(_) => debug!(qgroup = id, "stale qgroup destroyed"),
                Err(e) => debug!(qgroup = id, error = %e, "stale qgroup still busy"),
            }
        }
    }

    /// Deletes what interrupted imports left (`images/.<key>.tmp-*`).
    async fn sweep(&self) {
        let images = self.root.join("images");
        let Ok(entries) = std::fs::read_dir(&images) else {
            return;
        };
        for entry in entries.filter_map(|e| e.ok()) {
            let name = entry.file_name().to_string_lossy().into_owned();
            if !(name.starts_with('.') && name.contains(".tmp-")) {
                continue;
            }
            let path = entry.path();
            if btrfs(&[&"subvolume", &"delete", &path], &path)
                .await
                .is_err()
            {
                cleanup::remove_in_background(path, "an interrupted import");
            }
        }
    }

    /// The read-only subvolume holding `image`, imported now if missing or from an older build.
    async fn import(&self, image: &ImageTree) -> Result<PathBuf, BtrfsError> {
        let _one_at_a_time = self.import.lock().await;
        let images = self.root.join("images");
        let path = images.join(&image.key);
        let stamp_path = images.join(format!("{}.built_at", image.key));
        let stamp = image.built_at.to_rfc3339();
        if is_subvolume(&path) && std::fs::read_to_string(&stamp_path).is_ok_and(|s| s == stamp) {
            return Ok(path);
        }
        info!(image = %image.label, "importing the image into the btrfs pool");
        let tmp = images.join(format!(
            ".{}.tmp-{}",
            image.key,
            uuid::Uuid::new_v4().simple()
        ));
        btrfs(&[&"subvolume", &"create", &tmp], &tmp).await?;
        // A cancelled import is removed file by file (before it is made read-only) or by the
        // next `prepare`'s sweep.
        let guard = RemoveOnDrop::new(tmp.clone(), "a cancelled import");
        let imported = async {
            super::copy_tree(&image.rootfs, &tmp)
                .await
                .map_err(tool(&tmp))?;
            btrfs(&[&"property", &"set", &"-ts", &tmp, &"ro", &"true"], &tmp).await?;
            if is_subvolume(&path) {
                btrfs(&[&"subvolume", &"delete", &path], &path).await?;
            }
            std::fs::rename(&tmp, &path).map_err(io("rename into place", &tmp))?;
            std::fs::write(&stamp_path, &stamp).map_err(io("write", &stamp_path))?;
            Ok::<(), BtrfsError>(())
        }
        .await;
        if let Err(e) = imported {
            if let Err(undo) = btrfs(&[&"subvolume", &"delete", &tmp], &tmp).await {
                warn!(error = %undo, "cannot remove a failed import");
            }
            return Err(e);
        }
        guard.disarm();
        Ok(path)
    }

    pub async fn clone_image(
        &self,
        image: &ImageTree,
        instance: &str,
        disk_limit: Option<u64>,
    ) -> Result<PathBuf, BtrfsError> {
        let source = self.import(image).await?;
        let target = self.instance_path(instance);
        if target.exists() {
            return Err(BtrfsError::Exists(instance.to_owned()));
        }
        btrfs(&[&"subvolume", &"snapshot", &source, &target], &target).await?;
        if let Some(bytes) = disk_limit
            && let Err(e) = self.set_disk_limit(instance, Some(bytes)).await
        {
            let _ = self.destroy(instance).await;
            return Err(e);
        }
        info!(instance, image = %image.label, path = %target.display(), "cloned (btrfs snapshot)");
        Ok(target)
    }

    pub async fn destroy(&self, instance: &str) -> Result<(), BtrfsError> {
        let path = self.instance_path(instance);
        if std::fs::symlink_metadata(&path).is_err() {
            return Ok(());
        }
        let deleted = is_subvolume(&path)
            && btrfs(&[&"subvolume", &"delete", &path], &path)
                .await
                .is_ok();
        if !deleted {
            // Not a subvolume, or one holding nested subvolumes: remove it file by file
            // (rmdir removes the emptied subvolumes too).
            let doomed = path.clone();
            tokio::task::spawn_blocking(move || tree::remove_tree(&doomed)).await??;
        }
        self.sweep_stale_qgroups().await;
        info!(instance, "destroyed (btrfs)");
        Ok(())
    }

    pub async fn set_disk_limit(
        &self,
        instance: &str,
        bytes: Option<u64>,
    ) -> Result<(), BtrfsError> {
        let path = self.instance_path(instance);
        if !is_subvolume(&path) {
            return Err(BtrfsError::Missing(instance.to_owned()));
        }
        if self.native {
            // Quotas on the host's own filesystem are enabled only once a limit is wanted.
            btrfs(&[&"quota", &"enable", &self.root], &self.root).await?;
        }
        let limit = bytes.map_or_else(|| "none".to_owned(), |b| b.to_string());
        btrfs(&[&"qgroup", &"limit", &limit, &path], &path).await?;
        debug!(instance, limit, "disk limit set");
        Ok(())
    }

    pub async fn usage(&self, instance: &str) -> Result<DiskUsage, BtrfsError> {
        let path = self.instance_path(instance);
        if !is_subvolume(&path) {
            return Err(BtrfsError::Missing(instance.to_owned()));
        }
        btrfs(&[&"filesystem", &"sync", &self.root], &self.root).await?;
        match btrfs(&[&"qgroup", &"show", &"-ref", &"--raw", &path], &path).await {
            Ok(out) => qgroup::parse(&out).ok_or(BtrfsError::Qgroup { path, output: out }),
            Err(e) => {
                debug!(instance, error = %e, "no qgroups; measuring by walking the tree");
                let used = tokio::task::spawn_blocking(move || tree::disk_usage(&path)).await??;
                Ok(DiskUsage {
                    used,
                    exclusive: None,
                    limit: None,
                })
            }
        }
    }

    /// Every instance's usage from one qgroup listing of the pool; `None` when quotas are off
    /// (then [`usage`](Self::usage) walks each tree).
    pub async fn usage_all(&self) -> Result<Option<HashMap<String, DiskUsage>>, BtrfsError> {
        btrfs(&[&"filesystem", &"sync", &self.root], &self.root).await?;
        match btrfs(
            &[&"qgroup", &"show", &"-ref", &"--raw", &self.root],
            &self.root,
        )
        .await
        {
            Ok(out) => Ok(Some(qgroup::parse_all(&out))),
            Err(e) => {
                debug!(error = %e, "no qgroups; disk usage is measured per instance");
                Ok(None)
            }
        }
    }

    /// `(used, free)`; a loop pool's free space is capped by what its host filesystem has left.
    pub fn pool_usage(&self) -> Result<(u64, u64), BtrfsError> {
        let (used, free) = pool::fs_usage(&self.root).map_err(io("inspect", &self.root))?;
        if self.native {
            return Ok((used, free));
        }
        let (_, host_free) =
            pool::fs_usage(&self.storage_dir).map_err(io("inspect", &self.storage_dir))?;
        Ok((used, free.min(host_free)))
    }

    pub async fn teardown(&self) -> Result<(), BtrfsError> {
        if !self.native {
            pool::unmount(&self.pool_file, &self.root).await?;
        }
        Ok(())
    }
}

pub(super) fn is_subvolume(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok_and(|m| m.is_dir() && m.ino() == SUBVOLUME_INO)
}
