//! Idmapped mounts: a directory shown through a user namespace's mapping, so a guest's root
//! filesystem keeps guest ids on disk (0 = the guest's root) while the guest, running as its
//! host range, owns it: `open_tree(OPEN_TREE_CLONE)` + `mount_setattr(MOUNT_ATTR_IDMAP)` +
//! `move_mount`. No tree walk, so the cost does not grow with the filesystem.
//!
//! Where the filesystem or kernel cannot (before 5.12; a filesystem without `FS_ALLOW_IDMAP`,
//! such as NFS or ZFS before 2.2) [`probe`] says so, naming the filesystem, and the caller
//! refuses the unprivileged launch with that reason.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

use rustix::fs::CWD;
use rustix::mount::{MoveMountFlags, OpenTreeFlags, UnmountFlags};

use crate::userns::UserNamespace;

#[derive(Debug, thiserror::Error)]
pub enum IdmountError {
    #[error("{}: cannot clone the mount (open_tree): {source}", path.display())]
    OpenTree {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "{} ({fstype}) cannot be mounted idmapped: {source}{hint}",
        path.display()
    )]
    Idmap {
        path: PathBuf,
        fstype: String,
        hint: &'static str,
        #[source]
        source: std::io::Error,
    },
    #[error("attaching the idmapped mount at {}: {source}", target.display())]
    Attach {
        target: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("unmounting {}: {source}", target.display())]
    Unmount {
        target: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// `struct mount_attr` (linux/mount.h, version 0).
#[repr(C)]
struct MountAttr {
    attr_set: u64,
    attr_clr: u64,
    propagation: u64,
    userns_fd: u64,
}

const MOUNT_ATTR_IDMAP: u64 = 0x0010_0000;

/// A detached copy of the mount at `source` (that directory only, not the mounts below it),
/// idmapped through `userns`. It vanishes when dropped unless attached with [`attach`].
pub fn idmapped_tree(source: &Path, userns: &UserNamespace) -> Result<OwnedFd, IdmountError> {
    let tree = rustix::mount::open_tree(
        CWD,
        source,
        OpenTreeFlags::OPEN_TREE_CLONE | OpenTreeFlags::OPEN_TREE_CLOEXEC,
    )
    .map_err(|e| IdmountError::OpenTree {
        path: source.to_owned(),
        source: e.into(),
    })?;
    set_idmap(tree.as_fd(), userns.fd()).map_err(|e| IdmountError::Idmap {
        path: source.to_owned(),
        fstype: fstype(source),
        hint: hint(&e),
        source: e,
    })?;
    Ok(tree)
}

fn set_idmap(tree: BorrowedFd<'_>, userns: BorrowedFd<'_>) -> Result<(), std::io::Error> {
    let attr = MountAttr {
        attr_set: MOUNT_ATTR_IDMAP,
        attr_clr: 0,
        propagation: 0,
        userns_fd: userns.as_raw_fd() as u64,
    };
    // SAFETY: mount_setattr reads `size_of::<MountAttr>()` bytes from a live, correctly laid
    // out struct and an empty NUL-terminated path; the descriptors are borrowed for the call.
    let r = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            tree.as_raw_fd(),
            c"".as_ptr(),
            libc::AT_EMPTY_PATH,
            &raw const attr,
            std::mem::size_of::<MountAttr>(),
        )
    };
    if r < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

fn hint(e: &std::io::Error) -> &'static str {
    match e.raw_os_error() {
        Some(libc::EINVAL) => {
            " (the filesystem does not support idmapped mounts, or the directory is already \
             idmapped)"
        }
        Some(libc::ENOSYS) => " (the kernel has no mount_setattr: idmapped mounts need Linux 5.12)",
        Some(libc::EPERM) => " (needs CAP_SYS_ADMIN in the initial user namespace)",
        _ => "",
    }
}

/// Attaches a detached tree at `target` (an existing directory).
pub fn attach(tree: OwnedFd, target: &Path) -> Result<(), IdmountError> {
    rustix::mount::move_mount(
        tree.as_fd(),
        "",
        CWD,
        target,
        MoveMountFlags::MOVE_MOUNT_F_EMPTY_PATH,
    )
    .map_err(|e| IdmountError::Attach {
        target: target.to_owned(),
        source: e.into(),
    })
}

/// Mounts `source` at `target` idmapped through `userns`.
pub fn mount(source: &Path, target: &Path, userns: &UserNamespace) -> Result<(), IdmountError> {
    attach(idmapped_tree(source, userns)?, target)
}

/// Detaches the mount at `target` (lazily: it goes once nothing uses it).
pub fn unmount(target: &Path) -> Result<(), IdmountError> {
    rustix::mount::unmount(target, UnmountFlags::DETACH | UnmountFlags::NOFOLLOW).map_err(|e| {
        IdmountError::Unmount {
            target: target.to_owned(),
            source: e.into(),
        }
    })
}

/// `Ok` when `dir` can be mounted idmapped through `userns`; else the reason, naming the
/// filesystem. Makes nothing that outlives the call.
pub fn probe(dir: &Path, userns: &UserNamespace) -> Result<(), IdmountError> {
    idmapped_tree(dir, userns).map(drop)
}

/// The filesystem type of `path` from its statfs magic, for messages.
pub fn fstype(path: &Path) -> String {
    let Ok(st) = rustix::fs::statfs(path) else {
        return "unknown filesystem".into();
    };
    let name = match st.f_type {
        0x9123_683e => "btrfs",
        0xef53 => "ext4",
        0x5846_5342 => "xfs",
        0x0102_1994 => "tmpfs",
        0x794c_7630 => "overlayfs",
        0x6969 => "nfs",
        0x2fc1_2fc1 => "zfs",
        0x6573_5546 => "fuse",
        0xf15f => "ecryptfs",
        0x9fa0 => "proc",
        other => return format!("filesystem magic {other:#x}"),
    };
    name.to_owned()
}
