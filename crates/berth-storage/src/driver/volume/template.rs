//! Template images: a cached image imported once into a minimal ext4 image
//! (`images/<key>.ext4`, made large and sparse, filled with `cp -a`, checked and shrunk to what
//! its files need), and from it one template per disk size (`images/<key>@<bytes>.ext4`, a
//! reflink copy resized once), so every later instance of that size is a single reflink.

use std::path::{Path, PathBuf};

use tracing::info;

use super::activate::{self, mount_image, unmount_all, wait_detached};
use super::{VolumeDriver, VolumeError, ext4};
use crate::ImageTree;
use crate::fsio::io;

/// Size a template is made at before it is filled and shrunk: ext4 reserves room to grow a
/// filesystem online to 1024 times its first size.
const TEMPLATE_BYTES: u64 = 16 << 30;

impl VolumeDriver {
    /// The template for `image` at `bytes` of disk, made now if missing.
    pub(super) async fn sized_template(
        &self,
        image: &ImageTree,
        bytes: u64,
    ) -> Result<PathBuf, VolumeError> {
        let _one_at_a_time = self.import.lock().await;
        let minimal = self.import_template(image).await?;
        let bytes = bytes / ext4::BLOCK * ext4::BLOCK;
        let sized = self
            .root
            .join("images")
            .join(format!("{}@{bytes}.ext4", image.key));
        if sized.exists() {
            return Ok(sized);
        }
        let tmp = self.temp_image("images", &image.key);
        activate::reflink(&minimal, &tmp)?;
        if let Err(e) = ext4::resize_offline(&tmp, bytes).await {
            let _ = std::fs::remove_file(&tmp);
            return Err(e.into());
        }
        std::fs::rename(&tmp, &sized).map_err(io("rename into place", &tmp))?;
        info!(image = %image.label, bytes, "template sized");
        Ok(sized)
    }

    /// The minimal template of `image`, imported now if missing or from an older build.
    async fn import_template(&self, image: &ImageTree) -> Result<PathBuf, VolumeError> {
        let images = self.root.join("images");
        let path = images.join(format!("{}.ext4", image.key));
        let stamp_path = images.join(format!("{}.built_at", image.key));
        let stamp = image.built_at.to_rfc3339();
        if path.exists() && std::fs::read_to_string(&stamp_path).is_ok_and(|s| s == stamp) {
            return Ok(path);
        }
        info!(image = %image.label, "importing the image into the volume pool");
        let tmp = self.temp_image("images", &image.key);
        let mount_point = tmp.with_extension("mnt");
        let filled = self.fill(&image.rootfs, &tmp, &mount_point).await;
        let _ = unmount_all(&mount_point);
        let _ = std::fs::remove_dir(&mount_point);
        let built = match filled {
            Ok(()) => finish(&tmp).await,
            Err(e) => Err(e),
        };
        if let Err(e) = built {
            let _ = std::fs::remove_file(&tmp);
            return Err(e);
        }
        self.forget_sized(&image.key);
        std::fs::rename(&tmp, &path).map_err(io("rename into place", &tmp))?;
        std::fs::write(&stamp_path, &stamp).map_err(io("write", &stamp_path))?;
        Ok(path)
    }

    async fn fill(&self, tree: &Path, image: &Path, mount_point: &Path) -> Result<(), VolumeError> {
        ext4::mkfs(image, TEMPLATE_BYTES / ext4::BLOCK).await?;
        std::fs::create_dir(mount_point).map_err(io("create", mount_point))?;
        mount_image(image, mount_point, false)?;
        super::super::copy_tree(tree, mount_point)
            .await
            .map_err(VolumeError::Copy)?;
        unmount_all(mount_point)?;
        if !wait_detached(image).await? {
            return Err(VolumeError::InUse(format!("template {}", image.display())));
        }
        Ok(())
    }

    /// Removes the sized templates of an older build of `key`.
    fn forget_sized(&self, key: &str) {
        let prefix = format!("{key}@");
        let Ok(entries) = std::fs::read_dir(self.root.join("images")) else {
            return;
        };
        for entry in entries.flatten() {
            if entry.file_name().to_string_lossy().starts_with(&prefix) {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }
}

/// Checks the filled template and shrinks it to the least its files need.
async fn finish(image: &Path) -> Result<(), VolumeError> {
    ext4::shrink_to_minimum(image).await?;
    Ok(())
}
