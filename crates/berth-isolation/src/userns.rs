//! A user namespace with one guest's id mapping, held as a file descriptor: what
//! `mount_setattr(MOUNT_ATTR_IDMAP)` takes to make an idmapped mount, and what a runtime may
//! `setns` into. A short-lived child is born in the new namespace (`clone(CLONE_NEWUSER)`),
//! its `uid_map` and `gid_map` are written through a [`PrivateProc`] (so a read-only host
//! `/proc` does not matter), its namespace is opened, and it exits. Safe to call from a
//! multi-threaded process: the child only blocks in `read` and `_exit`s.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};

use berth_types::IdRange;

use crate::procfs::{PrivateProc, ProcError};

#[derive(Debug, thiserror::Error)]
pub enum UsernsError {
    #[error("creating a user namespace: {0}")]
    Clone(#[source] std::io::Error),
    #[error("a pipe for the user namespace's child: {0}")]
    Pipe(#[source] std::io::Error),
    #[error(transparent)]
    Proc(#[from] ProcError),
}

/// An open user namespace; the namespace lives as long as this (or anything made with it,
/// such as an idmapped mount) does.
#[derive(Debug)]
pub struct UserNamespace {
    fd: OwnedFd,
    range: IdRange,
}

impl UserNamespace {
    /// A new user namespace mapping guest ids 0-65535 to `range` (uids and gids).
    pub fn new(range: IdRange, proc: &PrivateProc) -> Result<Self, UsernsError> {
        Self::make(range, proc, false).map(|(userns, _)| userns)
    }

    /// A new user namespace as [`UserNamespace::new`], and a new network namespace it owns:
    /// the guest's root has CAP_NET_ADMIN there (its eth0, firewall, `net.*` sysctls, ports
    /// below 1024), which it never has in a network namespace the host's root made.
    pub fn with_network(
        range: IdRange,
        proc: &PrivateProc,
    ) -> Result<(Self, OwnedFd), UsernsError> {
        let (userns, net) = Self::make(range, proc, true)?;
        let net = net.ok_or_else(|| UsernsError::Clone(std::io::Error::other("no netns")))?;
        Ok((userns, net))
    }

    fn make(
        range: IdRange,
        proc: &PrivateProc,
        network: bool,
    ) -> Result<(Self, Option<OwnedFd>), UsernsError> {
        let child = Child::spawn(network)?;
        let pid = child.pid;
        let opened = (|| {
            proc.write(&format!("{pid}/uid_map"), &range.map_line())?;
            proc.write(&format!("{pid}/gid_map"), &range.map_line())?;
            let user = proc.open(&format!("{pid}/ns/user"))?;
            let net = match network {
                true => Some(proc.open(&format!("{pid}/ns/net"))?),
                false => None,
            };
            Ok::<_, ProcError>((user, net))
        })();
        child.finish();
        let (fd, net) = opened?;
        Ok((Self { fd, range }, net))
    }

    /// The user namespace bound on `path` (by [`crate::nsfile::bind`]), whose mapping is
    /// `range`; the caller vouches for the range (it is not read back from the kernel).
    pub fn open(path: &std::path::Path, range: IdRange) -> std::io::Result<Self> {
        let file = std::fs::File::open(path)?;
        Ok(Self {
            fd: file.into(),
            range,
        })
    }

    pub fn range(&self) -> IdRange {
        self.range
    }

    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

/// The child holding the namespace open until we have what we need from it.
struct Child {
    pid: libc::pid_t,
    /// Closing it lets the child's `read` return, and it exits.
    release: Option<OwnedFd>,
}

impl Child {
    /// A child in a new user namespace (and a new network namespace with `network`).
    fn spawn(network: bool) -> Result<Self, UsernsError> {
        let (wait_end, release) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)
            .map_err(|e| UsernsError::Pipe(e.into()))?;
        let mut flags = libc::CLONE_NEWUSER as libc::c_ulong | libc::SIGCHLD as libc::c_ulong;
        if network {
            flags |= libc::CLONE_NEWNET as libc::c_ulong;
        }
        // SAFETY: a fork-like clone (no new stack: the child runs on a copy of ours). In the
        // child only async-signal-safe system calls run before `_exit`, so the other threads'
        // locks (malloc, stdio) copied in whatever state they were do not matter.
        let pid = unsafe { libc::syscall(libc::SYS_clone, flags, 0, 0, 0, 0) };
        if pid == 0 {
            let release_fd = release.as_raw_fd();
            let wait_fd = wait_end.as_raw_fd();
            let mut byte = 0u8;
            // SAFETY: plain system calls on descriptors this process owns; `_exit` never
            // returns, so no destructor of the copied parent state runs.
            unsafe {
                libc::close(release_fd);
                // Every other descriptor goes too: a clone copies them all, so a child made
                // by another thread at the same moment would otherwise hold this child's
                // `release` end (and this one theirs), and neither `read` would ever end —
                // two launches at once deadlocked that way.
                if wait_fd > 0 {
                    libc::syscall(libc::SYS_close_range, 0, wait_fd - 1, 0);
                }
                libc::syscall(libc::SYS_close_range, wait_fd + 1, libc::c_uint::MAX, 0);
                while libc::read(wait_fd, (&raw mut byte).cast(), 1) < 0
                    && *libc::__errno_location() == libc::EINTR
                {}
                libc::_exit(0);
            }
        }
        if pid < 0 {
            return Err(UsernsError::Clone(std::io::Error::last_os_error()));
        }
        drop(wait_end);
        Ok(Self {
            pid: pid as libc::pid_t,
            release: Some(release),
        })
    }

    /// Lets the child exit and reaps it.
    fn finish(mut self) {
        self.reap();
    }

    fn reap(&mut self) {
        if self.release.take().is_none() {
            return;
        }
        let mut status = 0;
        loop {
            // SAFETY: waits for our own child; `status` is a valid out pointer.
            let r = unsafe { libc::waitpid(self.pid, &mut status, libc::__WALL) };
            if r >= 0 || std::io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
                break;
            }
        }
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        self.reap();
    }
}
