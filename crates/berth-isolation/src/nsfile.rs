//! Keeping a namespace alive without a process in it: its descriptor bind-mounted on a file,
//! as `ip netns add` does (`/run/netns/NAME`). Done through `open_tree` on the descriptor
//! itself, so no `/proc` path is involved.

use std::os::fd::{AsFd, BorrowedFd};
use std::path::{Path, PathBuf};

use rustix::fs::CWD;
use rustix::mount::{MoveMountFlags, OpenTreeFlags, UnmountFlags};

#[derive(Debug, thiserror::Error)]
pub enum NsFileError {
    #[error("binding a namespace on {}: {source}", path.display())]
    Bind {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("releasing the namespace bound on {}: {source}", path.display())]
    Release {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Binds the namespace `ns` on `path` (created as an empty file when missing).
pub fn bind(ns: BorrowedFd<'_>, path: &Path) -> Result<(), NsFileError> {
    let err = |source: std::io::Error| NsFileError::Bind {
        path: path.to_owned(),
        source,
    };
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map_err(err)?;
    let tree = rustix::mount::open_tree(
        ns,
        "",
        OpenTreeFlags::OPEN_TREE_CLONE
            | OpenTreeFlags::OPEN_TREE_CLOEXEC
            | OpenTreeFlags::AT_EMPTY_PATH,
    )
    .map_err(|e| err(e.into()))?;
    rustix::mount::move_mount(
        tree.as_fd(),
        "",
        CWD,
        path,
        MoveMountFlags::MOVE_MOUNT_F_EMPTY_PATH,
    )
    .map_err(|e| err(e.into()))
}

/// Unbinds `path` and removes the file; nothing there is fine.
pub fn release(path: &Path) -> Result<(), NsFileError> {
    let err = |source: std::io::Error| NsFileError::Release {
        path: path.to_owned(),
        source,
    };
    match rustix::mount::unmount(path, UnmountFlags::DETACH | UnmountFlags::NOFOLLOW) {
        Ok(()) | Err(rustix::io::Errno::INVAL | rustix::io::Errno::NOENT) => {}
        Err(e) => return Err(err(e.into())),
    }
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(err(e)),
        _ => Ok(()),
    }
}
