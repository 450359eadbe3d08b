//! Giving a running guest the current lxcfs again: after lxcfs was restarted, the guest's
//! binds of its files point at a dead FUSE connection (reads fail with ENOTCONN). Each file
//! of the new instance is cloned on the host (`open_tree`), then, on a thread of our own that
//! has joined the guest's mount namespace, the stale bind is detached and the clone attached
//! in its place (`move_mount`). Nothing of the guest is stopped.

use std::os::fd::{AsFd, OwnedFd};

use rustix::fs::CWD;
use rustix::mount::{MoveMountFlags, OpenTreeFlags, UnmountFlags};

use super::GuestBind;
use crate::procfs::{PrivateProc, ProcError};

#[derive(Debug, thiserror::Error)]
pub enum ReattachError {
    #[error(transparent)]
    Proc(#[from] ProcError),
    #[error("cloning {what}: {source}")]
    Clone {
        what: String,
        #[source]
        source: std::io::Error,
    },
    #[error("joining the guest's mount namespace: {0}")]
    Join(#[source] std::io::Error),
    #[error("mounting {what} in the guest: {source}")]
    Attach {
        what: &'static str,
        #[source]
        source: std::io::Error,
    },
}

/// Re-binds every file of `binds` in the mount namespace of the guest whose init is `pid`;
/// returns how many were attached.
pub fn reattach(pid: i32, binds: &[GuestBind], proc: &PrivateProc) -> Result<usize, ReattachError> {
    let mntns = proc.open(&format!("{pid}/ns/mnt"))?;
    let trees = binds
        .iter()
        .map(|b| {
            let tree = rustix::mount::open_tree(
                CWD,
                &b.source,
                OpenTreeFlags::OPEN_TREE_CLONE | OpenTreeFlags::OPEN_TREE_CLOEXEC,
            )
            .map_err(|e| ReattachError::Clone {
                what: b.source.display().to_string(),
                source: e.into(),
            })?;
            Ok((tree, b.target))
        })
        .collect::<Result<Vec<(OwnedFd, &'static str)>, ReattachError>>()?;
    // A thread of our own joins the guest's namespace (it must not share its filesystem
    // context with the others) and ends right after.
    std::thread::spawn(move || attach_all(&mntns, trees))
        .join()
        .unwrap_or_else(|_| {
            Err(ReattachError::Join(std::io::Error::other(
                "thread panicked",
            )))
        })
}

fn attach_all(
    mntns: &OwnedFd,
    trees: Vec<(OwnedFd, &'static str)>,
) -> Result<usize, ReattachError> {
    // SAFETY: FS (root, cwd, umask) only, not FILES: every descriptor stays shared.
    unsafe { rustix::thread::unshare_unsafe(rustix::thread::UnshareFlags::FS) }
        .map_err(|e| ReattachError::Join(e.into()))?;
    rustix::thread::move_into_link_name_space(
        mntns.as_fd(),
        Some(rustix::thread::LinkNameSpaceType::Mount),
    )
    .map_err(|e| ReattachError::Join(e.into()))?;
    let mut attached = 0;
    for (tree, target) in trees {
        // The stale bind (or nothing, for a guest started without lxcfs).
        let _ = rustix::mount::unmount(target, UnmountFlags::DETACH | UnmountFlags::NOFOLLOW);
        rustix::mount::move_mount(
            tree.as_fd(),
            "",
            CWD,
            target,
            MoveMountFlags::MOVE_MOUNT_F_EMPTY_PATH,
        )
        .map_err(|e| ReattachError::Attach {
            what: target,
            source: e.into(),
        })?;
        attached += 1;
    }
    Ok(attached)
}
