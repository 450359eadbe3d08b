//! A private procfs instance that is never attached to any path (`fsopen("proc")` +
//! `fsmount`): writable even where the host's `/proc` is mounted read-only, invisible to every
//! other process, and gone when the last descriptor closes. Used to write a child's `uid_map`
//! and `gid_map` and to open its namespace files.

use std::os::fd::{AsFd, OwnedFd};

use rustix::fs::{Mode, OFlags};
use rustix::mount::{FsMountFlags, FsOpenFlags, MountAttrFlags};

#[derive(Debug, thiserror::Error)]
pub enum ProcError {
    #[error("making a private procfs instance ({step}): {source}")]
    Mount {
        step: &'static str,
        #[source]
        source: std::io::Error,
    },
    #[error("opening proc/{path}: {source}")]
    Open {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("writing proc/{path}: {source}")]
    Write {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

/// The root of a detached procfs mount.
pub struct PrivateProc {
    root: OwnedFd,
}

impl PrivateProc {
    /// Mounts a fresh procfs instance (CAP_SYS_ADMIN) without attaching it anywhere.
    pub fn new() -> Result<Self, ProcError> {
        let step = |step| {
            move |e: rustix::io::Errno| ProcError::Mount {
                step,
                source: e.into(),
            }
        };
        let fs =
            rustix::mount::fsopen("proc", FsOpenFlags::FSOPEN_CLOEXEC).map_err(step("fsopen"))?;
        rustix::mount::fsconfig_create(&fs).map_err(step("fsconfig"))?;
        let root = rustix::mount::fsmount(
            &fs,
            FsMountFlags::FSMOUNT_CLOEXEC,
            MountAttrFlags::MOUNT_ATTR_NOSUID
                | MountAttrFlags::MOUNT_ATTR_NODEV
                | MountAttrFlags::MOUNT_ATTR_NOEXEC,
        )
        .map_err(step("fsmount"))?;
        Ok(Self { root })
    }

    /// Opens `path` (relative: `1234/ns/user`, a magic link that must be followed) read-only.
    pub fn open(&self, path: &str) -> Result<OwnedFd, ProcError> {
        rustix::fs::openat(
            self.root.as_fd(),
            path,
            OFlags::RDONLY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| ProcError::Open {
            path: path.to_owned(),
            source: e.into(),
        })
    }

    /// Writes `text` to `path` in one `write()`, as `uid_map`, `gid_map` and sysctls require.
    pub fn write(&self, path: &str, text: &str) -> Result<(), ProcError> {
        let fd = rustix::fs::openat(
            self.root.as_fd(),
            path,
            OFlags::WRONLY | OFlags::CLOEXEC | OFlags::NOFOLLOW,
            Mode::empty(),
        )
        .map_err(|e| ProcError::Open {
            path: path.to_owned(),
            source: e.into(),
        })?;
        let written = rustix::io::write(&fd, text.as_bytes()).map_err(|e| ProcError::Write {
            path: path.to_owned(),
            source: e.into(),
        })?;
        if written != text.len() {
            return Err(ProcError::Write {
                path: path.to_owned(),
                source: std::io::Error::other(format!("short write: {written} of {}", text.len())),
            });
        }
        Ok(())
    }

    /// Reads `path` whole.
    pub fn read(&self, path: &str) -> Result<String, ProcError> {
        let fd = self.open(path)?;
        let mut file = std::fs::File::from(fd);
        let mut text = String::new();
        std::io::Read::read_to_string(&mut file, &mut text).map_err(|source| ProcError::Open {
            path: path.to_owned(),
            source,
        })?;
        Ok(text)
    }
}
