//! Mounting and unmounting volumes, idempotently: a volume whose image is still attached to a
//! loop device (its filesystem alive in a guest's mount namespace) is mounted from that device
//! again — never through a second device, which would put two filesystems on the same blocks.
//! "Offline" (unmounted everywhere) is when the auto-clearing loop device has let go.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rustix::mount::{MountFlags, UnmountFlags};
use tracing::{debug, warn};

use super::{VolumeDriver, VolumeError, ext4};
use crate::fsio::io;
use crate::loopdev::{self, Attach};

/// How long an unmounted volume's loop device may stay attached while no mount namespace has it
/// mounted (another tool probing the device holds it open for a moment).
const DETACH_WAIT: Duration = Duration::from_secs(20);

/// Whether something is mounted at `path` (it is on another device than its parent).
pub(super) fn is_mounted(path: &Path) -> bool {
    let (Ok(own), Some(Ok(parent))) = (
        std::fs::metadata(path),
        path.parent().map(std::fs::metadata),
    ) else {
        return false;
    };
    own.dev() != parent.dev()
}

/// Whether files under `dir` can be cloned with `FICLONE` (xfs with reflinks, btrfs).
pub(super) fn can_reflink(dir: &Path) -> bool {
    let Some(existing) = dir.ancestors().find(|p| p.is_dir()) else {
        return false;
    };
    let Ok(scratch) = tempfile_in(existing) else {
        return false;
    };
    let probe = || -> std::io::Result<()> {
        let source = std::fs::File::create(scratch.join("a"))?;
        std::io::Write::write_all(&mut &source, &[0u8; 4096])?;
        source.sync_all()?;
        let target = std::fs::File::create(scratch.join("b"))?;
        rustix::fs::ioctl_ficlone(&target, &source)?;
        Ok(())
    };
    let ok = probe().is_ok();
    let _ = std::fs::remove_dir_all(&scratch);
    ok
}

fn tempfile_in(dir: &Path) -> std::io::Result<PathBuf> {
    let path = dir.join(format!(
        ".berth-reflink-probe-{}",
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::create_dir(&path)?;
    Ok(path)
}

/// `target` becomes a copy of `source` sharing all its blocks (one `FICLONE`).
pub(super) fn reflink(source: &Path, target: &Path) -> Result<(), VolumeError> {
    use std::os::unix::fs::OpenOptionsExt;
    let from = std::fs::File::open(source).map_err(io("open", source))?;
    let to = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(target)
        .map_err(io("create", target))?;
    if let Err(e) = rustix::fs::ioctl_ficlone(&to, &from) {
        drop(to);
        let _ = std::fs::remove_file(target);
        return Err(io("reflink a copy of", source)(e.into()).into());
    }
    Ok(())
}

/// Mounts the ext4 image `image` at `mount_point` (read-only for snapshot views).
pub(super) fn mount_image(
    image: &Path,
    mount_point: &Path,
    read_only: bool,
) -> Result<(), VolumeError> {
    let existing = loopdev::attached_to(image)?.into_iter().next();
    let (device, _held) = match existing {
        Some(device) => (device, None),
        None => {
            let attached = loopdev::attach(
                image,
                Attach {
                    read_only,
                    direct_io: true,
                },
            )?;
            (attached.path.clone(), Some(attached))
        }
    };
    let (flags, options) = if read_only {
        // A snapshot was frozen clean: nothing in its journal to replay.
        (MountFlags::RDONLY, c"noload")
    } else {
        (MountFlags::empty(), ext4::MOUNT_OPTIONS)
    };
    rustix::mount::mount(&device, mount_point, "ext4", flags, Some(options)).map_err(|e| {
        VolumeError::Mount {
            action: "mount a volume at",
            path: mount_point.to_owned(),
            source: e.into(),
        }
    })?;
    debug!(image = %image.display(), device = %device.display(), "volume mounted");
    Ok(())
}

/// Unmounts whatever is mounted at `mount_point` (stacked mounts too); lazily when busy.
pub(super) fn unmount_all(mount_point: &Path) -> Result<(), VolumeError> {
    while is_mounted(mount_point) {
        if rustix::mount::unmount(mount_point, UnmountFlags::NOFOLLOW).is_err() {
            rustix::mount::unmount(mount_point, UnmountFlags::DETACH | UnmountFlags::NOFOLLOW)
                .map_err(|e| VolumeError::Mount {
                    action: "unmount",
                    path: mount_point.to_owned(),
                    source: e.into(),
                })?;
        }
    }
    Ok(())
}

/// Waits for `image`'s loop device to detach (its filesystem unmounted everywhere); `false`
/// when a mount namespace still has it mounted (a running guest), or something keeps it open
/// for long. Brief opens by other tools (device probers) are waited out.
pub(super) async fn wait_detached(image: &Path) -> Result<bool, VolumeError> {
    let started = std::time::Instant::now();
    loop {
        let devices = loopdev::attached_to(image)?;
        if devices.is_empty() {
            return Ok(true);
        }
        let waited = started.elapsed();
        if waited > DETACH_WAIT {
            return Ok(false);
        }
        if waited > Duration::from_millis(200) && devices.iter().any(|d| mounted_anywhere(d)) {
            return Ok(false);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Whether any process's mount namespace has a filesystem of `device` mounted.
fn mounted_anywhere(device: &Path) -> bool {
    let Some(name) = device.file_name() else {
        return false;
    };
    let sys = Path::new("/sys/block").join(name).join("dev");
    let Ok(numbers) = std::fs::read_to_string(&sys) else {
        return false;
    };
    let numbers = numbers.trim();
    let Ok(processes) = std::fs::read_dir("/proc") else {
        return false;
    };
    processes.flatten().any(|p| {
        let pid = p.file_name();
        if !pid.to_string_lossy().bytes().all(|b| b.is_ascii_digit()) {
            return false;
        }
        std::fs::read_to_string(p.path().join("mountinfo"))
            .is_ok_and(|text| text.lines().any(|l| l.split(' ').nth(2) == Some(numbers)))
    })
}

impl VolumeDriver {
    /// Mounts the instance's volume if it is not mounted; returns its rootfs. Idempotent.
    pub fn activate(&self, instance: &str) -> Result<PathBuf, VolumeError> {
        let mount_point = self.instance_path(instance);
        if is_mounted(&mount_point) {
            return Ok(mount_point);
        }
        let image = self.image_path(instance);
        if !image.exists() {
            return Err(VolumeError::Missing(instance.to_owned()));
        }
        std::fs::create_dir_all(&mount_point).map_err(io("create", &mount_point))?;
        mount_image(&image, &mount_point, false)?;
        Ok(mount_point)
    }

    /// Unmounts the instance's volume and makes sure nothing else has it mounted; when
    /// something does, mounts it back and answers [`VolumeError::InUse`].
    pub(super) async fn take_offline(&self, instance: &str) -> Result<(), VolumeError> {
        let mount_point = self.instance_path(instance);
        unmount_all(&mount_point)?;
        if wait_detached(&self.image_path(instance)).await? {
            return Ok(());
        }
        self.activate(instance)?;
        Err(VolumeError::InUse(instance.to_owned()))
    }

    /// Mounts every instance's volume, and thaws any a crash left frozen.
    pub(super) fn activate_all(&self) {
        for name in self.instance_names() {
            match self.activate(&name) {
                Ok(root) => {
                    if let Err(e) = ext4::thaw(&root) {
                        warn!(instance = name, error = %e, "cannot thaw the disk");
                    }
                }
                Err(e) => {
                    warn!(instance = name, error = %crate::error_chain(&e), "cannot mount the disk")
                }
            }
        }
    }

    /// Removes what interrupted operations left: temporary images and template mounts, and
    /// snapshot views an export was reading.
    pub(super) fn sweep(&self) {
        for sub in ["images", "instances"] {
            let Ok(entries) = std::fs::read_dir(self.root.join(sub)) else {
                continue;
            };
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                if name.starts_with('.') && name.contains(".tmp-") {
                    self.remove_leftover(&entry.path());
                }
            }
        }
        let Ok(instances) = std::fs::read_dir(self.root.join("snapshots")) else {
            return;
        };
        for dir in instances.flatten() {
            let Ok(entries) = std::fs::read_dir(dir.path()) else {
                continue;
            };
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                if name.starts_with(".view-") {
                    self.remove_leftover(&entry.path());
                }
            }
        }
    }

    fn remove_leftover(&self, path: &Path) {
        let removed = if path.is_dir() {
            unmount_all(path)
                .and_then(|()| std::fs::remove_dir(path).map_err(|e| io("remove", path)(e).into()))
        } else {
            std::fs::remove_file(path).map_err(|e| io("remove", path)(e).into())
        };
        if let Err(e) = removed {
            warn!(path = %path.display(), error = %crate::error_chain(&e), "cannot remove a leftover");
        }
    }
}
