//! The `dir` driver: each instance is a full copy of its image (`cp -a --reflink=auto`, so a
//! reflink-capable filesystem such as xfs shares the blocks). No disk limits.

use std::path::{Path, PathBuf};

use tracing::info;

use super::DiskUsage;
use crate::ImageTree;
use crate::cleanup::{self, RemoveOnDrop};
use crate::cmd::CmdError;
use crate::tree;

#[derive(Debug, thiserror::Error)]
pub enum DirError {
    #[error(
        "the dir storage driver cannot limit disk size; set [storage] driver = \"btrfs\" \
         (or \"auto\" on a host that can run btrfs) to use disk limits"
    )]
    NoDiskLimit,
    #[error("instance {0:?} already has a rootfs")]
    Exists(String),
    #[error(transparent)]
    Io(#[from] crate::fsio::PathIoError),
    #[error("copying the image failed")]
    Copy(#[source] CmdError),
    #[error("the disk usage task died")]
    Join(#[from] tokio::task::JoinError),
}

use crate::fsio::io;

#[derive(Debug, Clone)]
pub struct DirDriver {
    root: PathBuf,
}

impl DirDriver {
    pub fn new(storage_dir: &Path) -> Self {
        Self {
            root: storage_dir.join("dir"),
        }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn instances(&self) -> PathBuf {
        self.root.join("instances")
    }

    pub fn instance_path(&self, instance: &str) -> PathBuf {
        self.instances().join(instance)
    }

    /// Whether any instance lives here (so `auto` keeps this driver).
    pub fn has_instances(&self) -> bool {
        std::fs::read_dir(self.instances())
            .map(|mut d| {
                d.any(|e| e.is_ok_and(|e| !e.file_name().to_string_lossy().starts_with('.')))
            })
            .unwrap_or(false)
    }

    /// Creates the directories and sweeps what interrupted copies and removals left.
    pub async fn prepare(&self) -> Result<(), DirError> {
        let instances = self.instances();
        std::fs::create_dir_all(&instances).map_err(io("create", &instances))?;
        for entry in std::fs::read_dir(&instances).map_err(io("read", &instances))? {
            let Ok(entry) = entry else { continue };
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') && (name.contains(".tmp-") || name.contains(".trash-")) {
                cleanup::remove_in_background(entry.path(), "an interrupted copy");
            }
        }
        Ok(())
    }

    pub async fn clone_image(
        &self,
        image: &ImageTree,
        instance: &str,
        disk_limit: Option<u64>,
    ) -> Result<PathBuf, DirError> {
        if disk_limit.is_some() {
            return Err(DirError::NoDiskLimit);
        }
        let target = self.instance_path(instance);
        if target.exists() {
            return Err(DirError::Exists(instance.to_owned()));
        }
        let tmp = self
            .instances()
            .join(format!(".{instance}.tmp-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir(&tmp).map_err(io("create", &tmp))?;
        let guard = RemoveOnDrop::new(tmp.clone(), "a failed copy");
        super::copy_tree(&image.rootfs, &tmp)
            .await
            .map_err(DirError::Copy)?;
        std::fs::rename(&tmp, &target).map_err(io("rename into place", &tmp))?;
        guard.disarm();
        info!(instance, image = %image.label, path = %target.display(), "cloned (dir)");
        Ok(target)
    }

    pub async fn destroy(&self, instance: &str) -> Result<(), DirError> {
        let path = self.instance_path(instance);
        if !path.exists() {
            return Ok(());
        }
        // Move aside first so the name is free at once, then remove.
        let trash = self.instances().join(format!(
            ".{instance}.trash-{}",
            uuid::Uuid::new_v4().simple()
        ));
        std::fs::rename(&path, &trash).map_err(io("move aside", &path))?;
        tokio::task::spawn_blocking(move || tree::remove_tree(&trash)).await??;
        info!(instance, "destroyed (dir)");
        Ok(())
    }

    pub async fn usage(&self, instance: &str) -> Result<DiskUsage, DirError> {
        let path = self.instance_path(instance);
        let used = tokio::task::spawn_blocking(move || tree::disk_usage(&path)).await??;
        Ok(DiskUsage {
            used,
            exclusive: None,
            limit: None,
        })
    }

    pub fn pool_usage(&self) -> Result<(u64, u64), DirError> {
        Ok(super::pool::fs_usage(&self.root).map_err(io("inspect", &self.root))?)
    }
}
