//! The loop-backed btrfs pool: a sparse file formatted once, attached to a loop device and
//! mounted. The device is detached lazily right after mounting (the kernel's autoclear), so
//! unmounting the pool frees it and nothing leaks, even if the daemon dies.

use std::path::{Path, PathBuf};

use tracing::{debug, info, warn};

use crate::cmd::{self, CmdError};
use crate::mounts;

const BTRFS_SUPER_MAGIC: i128 = 0x9123_683E;

#[derive(Debug, thiserror::Error)]
pub enum PoolError {
    #[error(transparent)]
    Io(#[from] crate::fsio::PathIoError),
    #[error("{} is already mounted with {fs_type}, not btrfs", path.display())]
    NotBtrfs { path: PathBuf, fs_type: String },
    #[error("setting up the btrfs pool {} failed", path.display())]
    Tool {
        path: PathBuf,
        #[source]
        source: CmdError,
    },
}

use crate::fsio::io;

fn tool(path: &Path) -> impl FnOnce(CmdError) -> PoolError {
    let path = path.to_owned();
    move |source| PoolError::Tool { path, source }
}

/// `(used, free)` bytes of the filesystem holding `path`.
pub fn fs_usage(path: &Path) -> std::io::Result<(u64, u64)> {
    let st = rustix::fs::statvfs(path)?;
    let used = st.f_blocks.saturating_sub(st.f_bfree) * st.f_frsize;
    Ok((used, st.f_bavail * st.f_frsize))
}

/// Whether `path` (or, if missing, its nearest existing ancestor) is on btrfs.
pub fn is_btrfs(path: &Path) -> bool {
    path.ancestors()
        .find_map(|p| rustix::fs::statfs(p).ok())
        .is_some_and(|st| i128::from(st.f_type) == BTRFS_SUPER_MAGIC)
}

/// Mounts the pool file `image` at `mount_point`, creating a `size`-byte sparse file and its
/// filesystem first if it does not exist. Idempotent: an existing mount is reused.
pub async fn mount(image: &Path, mount_point: &Path, size: u64) -> Result<(), PoolError> {
    if let Some(mount) = mounts::mount_at(mount_point) {
        if mount.fs_type != "btrfs" {
            return Err(PoolError::NotBtrfs {
                path: mount_point.to_owned(),
                fs_type: mount.fs_type,
            });
        }
        debug!(pool = %mount_point.display(), "pool already mounted");
        return Ok(());
    }
    std::fs::create_dir_all(mount_point).map_err(io("create", mount_point))?;
    let created = !image.exists();
    if created {
        info!(file = %image.display(), size, "creating a sparse btrfs pool file");
        let file = std::fs::File::create_new(image).map_err(io("create", image))?;
        file.set_len(size).map_err(io("size", image))?;
        drop(file);
        if let Err(e) = cmd::run(
            "mkfs.btrfs",
            [
                "-q".as_ref(),
                "-L".as_ref(),
                "berth".as_ref(),
                image.as_os_str(),
            ],
        )
        .await
        {
            let _ = std::fs::remove_file(image);
            return Err(tool(image)(e));
        }
    }
    let mounted = attach_and_mount(image, mount_point).await;
    if mounted.is_err() && created {
        let _ = std::fs::remove_file(image);
    }
    mounted
}

/// The loop devices `image` is attached to.
async fn attached(image: &Path) -> Result<Vec<String>, PoolError> {
    let out = cmd::run("losetup", ["-j".as_ref(), image.as_os_str()])
        .await
        .map_err(tool(image))?;
    Ok(out
        .lines()
        .filter_map(|l| l.split_once(':').map(|(dev, _)| dev.trim().to_owned()))
        .filter(|d| d.starts_with("/dev/"))
        .collect())
}

async fn attach_and_mount(image: &Path, mount_point: &Path) -> Result<(), PoolError> {
    let (device, attached_now) = match attached(image).await?.into_iter().next() {
        Some(device) => (device, false),
        None => {
            let out = cmd::run(
                "losetup",
                ["--find".as_ref(), "--show".as_ref(), image.as_os_str()],
            )
            .await
            .map_err(tool(image))?;
            (out.trim().to_owned(), true)
        }
    };
    let mounted = cmd::run(
        "mount",
        [
            "-t".as_ref(),
            "btrfs".as_ref(),
            "-o".as_ref(),
            "noatime".as_ref(),
            device.as_ref(),
            mount_point.as_os_str(),
        ],
    )
    .await;
    // Detach now: while mounted this only sets autoclear, so the unmount frees the device;
    // when the mount failed it frees the device at once.
    if (attached_now || mounted.is_ok())
        && let Err(e) = cmd::run("losetup", ["-d", device.as_str()]).await
    {
        warn!(device, error = %e, "cannot schedule the loop device's release");
    }
    mounted.map_err(tool(image))?;
    info!(pool = %mount_point.display(), device, "btrfs pool mounted");
    Ok(())
}

/// Unmounts the pool and makes sure no loop device stays attached to `image`.
pub async fn unmount(image: &Path, mount_point: &Path) -> Result<(), PoolError> {
    if mounts::mount_at(mount_point).is_some() {
        cmd::run("umount", [mount_point])
            .await
            .map_err(tool(mount_point))?;
    }
    if image.exists() {
        for device in attached(image).await? {
            if let Err(e) = cmd::run("losetup", ["-d", device.as_str()]).await {
                warn!(device, error = %e, "cannot detach a loop device");
            }
        }
    }
    info!(pool = %mount_point.display(), "btrfs pool unmounted");
    Ok(())
}
