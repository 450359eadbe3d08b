//! Safe reads and writes inside a guest root filesystem: every path is resolved by the kernel
//! inside the rootfs (`openat2` with `RESOLVE_IN_ROOT`), so a guest's symlinks (`/etc -> /`,
//! `/etc/hostname -> ../../../tmp/x`) can never send a write to the host.
//!
//! Files are replaced atomically (a temporary file renamed over the old entry), which replaces a
//! symlink at the final component instead of following it, and keeps the old file's owner.

use std::ffi::OsStr;
use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

use rustix::fs::{AtFlags, Gid, Mode, OFlags, ResolveFlags, Uid};
use rustix::io::Errno;
use tracing::trace;

mod files;
mod tree;
mod unpack;

pub use files::{GuestEntry, GuestFileInfo, GuestFileKind};
pub use unpack::NodeKind;

/// Refuses anything bigger from [`read_file`]: guest files are read for small edits only.
pub const MAX_READ: u64 = 16 << 20;

#[derive(Debug, thiserror::Error)]
pub enum RootfsError {
    #[error("cannot open the root filesystem {}", .0.display())]
    OpenRoot(PathBuf, #[source] std::io::Error),
    #[error("{path:?} in the guest is not a file path")]
    BadPath { path: PathBuf },
    #[error("cannot {action} {path:?} in the guest")]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path:?} in the guest is larger than {MAX_READ} bytes")]
    TooLarge { path: PathBuf },
    #[error("{path:?}: more than {max} bytes were sent")]
    TooBig { path: PathBuf, max: u64 },
}

fn io_err<'p>(action: &'static str, path: &'p Path) -> impl FnOnce(Errno) -> RootfsError + 'p {
    move |e| RootfsError::Io {
        action,
        path: path.to_owned(),
        source: e.into(),
    }
}

/// Resolve flags for every lookup: stay inside the root, no magic links (`/proc/self/root`).
fn in_root() -> ResolveFlags {
    ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS
}

/// An open guest root; every operation resolves relative to it.
pub struct Rootfs {
    root: OwnedFd,
    resolve: ResolveFlags,
}

impl Rootfs {
    /// Opens `path` (a host path, trusted) as the root of a guest.
    pub fn open(path: &Path) -> Result<Self, RootfsError> {
        let root = rustix::fs::open(
            path,
            OFlags::DIRECTORY | OFlags::RDONLY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| RootfsError::OpenRoot(path.to_owned(), e.into()))?;
        Ok(Self {
            root,
            resolve: in_root(),
        })
    }

    /// Like [`Rootfs::open`], but no lookup may go through a symlink at all (an `ELOOP`
    /// error instead): for unpacking archives, where a legitimate tree never needs one.
    pub fn open_strict(path: &Path) -> Result<Self, RootfsError> {
        let mut rootfs = Self::open(path)?;
        rootfs.resolve |= ResolveFlags::NO_SYMLINKS;
        Ok(rootfs)
    }

    /// Whether the place `path` would be written to lies on the root's own filesystem: its
    /// nearest existing ancestor (the path itself when it exists) is resolved in the guest and
    /// its device compared with the root's. `false` for the guest's `/proc`, `/sys`, `/dev`, a
    /// tmpfs it mounted; a magic link on the way is an error (`ELOOP`), as for every lookup.
    pub fn on_root_filesystem(&self, path: &Path) -> Result<bool, RootfsError> {
        let root = rustix::fs::fstat(&self.root).map_err(io_err("inspect", Path::new("/")))?;
        let mut at = Some(path);
        while let Some(candidate) = at {
            let rel = relative(candidate);
            let rel = if rel.as_os_str().is_empty() {
                Path::new(".").to_path_buf()
            } else {
                rel
            };
            match rustix::fs::openat2(
                &self.root,
                &rel,
                OFlags::PATH | OFlags::CLOEXEC,
                Mode::empty(),
                self.resolve,
            ) {
                Ok(fd) => {
                    let st = rustix::fs::fstat(&fd).map_err(io_err("inspect", candidate))?;
                    return Ok(st.st_dev == root.st_dev);
                }
                Err(Errno::NOENT) => at = candidate.parent(),
                Err(e) => return Err(io_err("open", candidate)(e)),
            }
        }
        Ok(true)
    }

    /// Opens a directory inside the guest (`""` is the root itself).
    fn open_dir(&self, path: &Path) -> Result<OwnedFd, Errno> {
        let rel = relative(path);
        let rel = if rel.as_os_str().is_empty() {
            Path::new(".")
        } else {
            rel.as_path()
        };
        rustix::fs::openat2(
            &self.root,
            rel,
            OFlags::DIRECTORY | OFlags::RDONLY | OFlags::CLOEXEC,
            Mode::empty(),
            self.resolve,
        )
    }

    /// The parent directory of `path` (created with `mkdir -p` semantics if `create`) and the
    /// final name, which must be a plain name.
    fn parent<'p>(
        &self,
        path: &'p Path,
        create: bool,
    ) -> Result<(OwnedFd, &'p OsStr), RootfsError> {
        let name = match path.components().next_back() {
            Some(Component::Normal(name)) => name,
            _ => {
                return Err(RootfsError::BadPath {
                    path: path.to_owned(),
                });
            }
        };
        let parent = path.parent().unwrap_or(Path::new(""));
        if create {
            self.create_dir_all(parent, 0o755)?;
        }
        let dir = self
            .open_dir(parent)
            .map_err(io_err("open the directory of", path))?;
        Ok((dir, name))
    }

    /// Writes `bytes` to `path` atomically with `mode`; the owner of a replaced file is kept,
    /// a new file gets its directory's owner. Missing parent directories are created.
    pub fn write_file(&self, path: &Path, bytes: &[u8], mode: u32) -> Result<(), RootfsError> {
        let written = self.replace_file(path, mode, None, |file| {
            file.write_all(bytes).map(|()| bytes.len() as u64)
        })?;
        trace!(path = %path.display(), len = written, "wrote guest file");
        Ok(())
    }

    /// Replaces `path` atomically: a temporary file beside it is filled by `fill`, given
    /// `owner` (or the replaced file's, or the directory's) and `mode`, then renamed over it —
    /// which replaces a symlink there rather than following it.
    pub(super) fn replace_file(
        &self,
        path: &Path,
        mode: u32,
        owner: Option<(u32, u32)>,
        fill: impl FnOnce(&mut std::fs::File) -> std::io::Result<u64>,
    ) -> Result<u64, RootfsError> {
        let (dir, name) = self.parent(path, true)?;
        let owner = match owner {
            Some(owner) => owner,
            None => match rustix::fs::statat(&dir, name, AtFlags::SYMLINK_NOFOLLOW) {
                Ok(st) => (st.st_uid, st.st_gid),
                Err(_) => {
                    let st = rustix::fs::fstat(&dir)
                        .map_err(io_err("inspect the directory of", path))?;
                    (st.st_uid, st.st_gid)
                }
            },
        };
        let tmp = temp_name(name);
        let fd = rustix::fs::openat(
            &dir,
            &tmp,
            OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::from_raw_mode(0o600),
        )
        .map_err(io_err("create", path))?;
        let result = (|| {
            let mut file = std::fs::File::from(fd);
            let written = fill(&mut file).map_err(|source| RootfsError::Io {
                action: "write",
                path: path.to_owned(),
                source,
            })?;
            rustix::fs::fchown(
                &file,
                Some(Uid::from_raw(owner.0)),
                Some(Gid::from_raw(owner.1)),
            )
            .map_err(io_err("set the owner of", path))?;
            rustix::fs::fchmod(&file, Mode::from_raw_mode(mode & 0o7777))
                .map_err(io_err("set the mode of", path))?;
            rustix::fs::renameat(&dir, &tmp, &dir, name).map_err(io_err("replace", path))?;
            Ok(written)
        })();
        if result.is_err() {
            let _ = rustix::fs::unlinkat(&dir, &tmp, AtFlags::empty());
        }
        result
    }

    /// Reads `path`, following the guest's symlinks inside the guest.
    pub fn read_file(&self, path: &Path) -> Result<Vec<u8>, RootfsError> {
        let rel = relative(path);
        let fd = rustix::fs::openat2(
            &self.root,
            &rel,
            OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NOCTTY | OFlags::NONBLOCK,
            Mode::empty(),
            self.resolve,
        )
        .map_err(io_err("open", path))?;
        let st = rustix::fs::fstat(&fd).map_err(io_err("inspect", path))?;
        if rustix::fs::FileType::from_raw_mode(st.st_mode) != rustix::fs::FileType::RegularFile {
            return Err(RootfsError::BadPath {
                path: path.to_owned(),
            });
        }
        let mut bytes = Vec::new();
        std::fs::File::from(fd)
            .take(MAX_READ + 1)
            .read_to_end(&mut bytes)
            .map_err(|source| RootfsError::Io {
                action: "read",
                path: path.to_owned(),
                source,
            })?;
        if bytes.len() as u64 > MAX_READ {
            return Err(RootfsError::TooLarge {
                path: path.to_owned(),
            });
        }
        Ok(bytes)
    }

    /// Reads `path`, or `None` when it does not exist.
    pub fn read_optional(&self, path: &Path) -> Result<Option<Vec<u8>>, RootfsError> {
        match self.read_file(path) {
            Err(RootfsError::Io { source, .. })
                if source.kind() == std::io::ErrorKind::NotFound =>
            {
                Ok(None)
            }
            other => other.map(Some),
        }
    }

    /// Removes the entry at `path` (a symlink itself, not its target); `false` if it was absent.
    pub fn remove_file(&self, path: &Path) -> Result<bool, RootfsError> {
        let (dir, name) = match self.parent(path, false) {
            Ok(found) => found,
            Err(RootfsError::Io { source, .. })
                if source.kind() == std::io::ErrorKind::NotFound =>
            {
                return Ok(false);
            }
            Err(e) => return Err(e),
        };
        match rustix::fs::unlinkat(&dir, name, AtFlags::empty()) {
            Ok(()) => Ok(true),
            Err(Errno::NOENT) => Ok(false),
            Err(e) => Err(io_err("remove", path)(e)),
        }
    }

    /// Creates `path` and its missing parents with `mode`.
    pub fn create_dir_all(&self, path: &Path, mode: u32) -> Result<(), RootfsError> {
        let mut done = PathBuf::new();
        for component in relative(path).components() {
            let Component::Normal(name) = component else {
                continue;
            };
            let parent = self.open_dir(&done).map_err(io_err("open", &done))?;
            done.push(name);
            match rustix::fs::mkdirat(&parent, name, Mode::from_raw_mode(mode & 0o7777)) {
                Ok(()) | Err(Errno::EXIST) => {}
                Err(e) => return Err(io_err("create the directory", &done)(e)),
            }
        }
        // A final check that the whole path is a directory inside the root.
        self.open_dir(path).map_err(io_err("open", path))?;
        Ok(())
    }

    /// Makes `path` a symlink to `target` (which is stored as given, never resolved here),
    /// replacing what was there atomically.
    pub fn symlink(&self, path: &Path, target: &Path) -> Result<(), RootfsError> {
        let (dir, name) = self.parent(path, true)?;
        let tmp = temp_name(name);
        rustix::fs::symlinkat(target, &dir, &tmp).map_err(io_err("create the symlink", path))?;
        rustix::fs::renameat(&dir, &tmp, &dir, name).map_err(|e| {
            let _ = rustix::fs::unlinkat(&dir, &tmp, AtFlags::empty());
            io_err("replace", path)(e)
        })
    }

    /// The device and inode of what `path` names, following the guest's symlinks inside the
    /// guest (never out of it); `None` when it does not exist or cannot be reached. Two paths
    /// with the same identity are the same file (a symlink or a hard link to it).
    pub fn identity(&self, path: &Path) -> Option<(u64, u64)> {
        let rel = relative(path);
        let fd = rustix::fs::openat2(
            &self.root,
            &rel,
            OFlags::PATH | OFlags::CLOEXEC,
            Mode::empty(),
            self.resolve,
        )
        .ok()?;
        let st = rustix::fs::fstat(&fd).ok()?;
        Some((st.st_dev, st.st_ino))
    }

    /// Whether an entry exists at `path` (without following a final symlink).
    pub fn exists(&self, path: &Path) -> bool {
        self.parent(path, false)
            .map(|(dir, name)| rustix::fs::statat(&dir, name, AtFlags::SYMLINK_NOFOLLOW).is_ok())
            .unwrap_or(false)
    }
}

/// `path` without its root, so it resolves relative to the guest root.
fn relative(path: &Path) -> PathBuf {
    path.components()
        .filter(|c| !matches!(c, Component::RootDir | Component::Prefix(_)))
        .collect()
}

fn temp_name(name: &OsStr) -> PathBuf {
    let mut tmp = b".".to_vec();
    tmp.extend_from_slice(name.as_bytes());
    tmp.extend_from_slice(format!(".berth-{}", uuid::Uuid::new_v4().simple()).as_bytes());
    PathBuf::from(OsStr::from_bytes(&tmp))
}

/// Writes one file into the guest at `rootfs` (see [`Rootfs::write_file`]).
pub fn write_file(rootfs: &Path, path: &Path, bytes: &[u8], mode: u32) -> Result<(), RootfsError> {
    Rootfs::open(rootfs)?.write_file(path, bytes, mode)
}

/// Reads one file of the guest at `rootfs` (see [`Rootfs::read_file`]).
pub fn read_file(rootfs: &Path, path: &Path) -> Result<Vec<u8>, RootfsError> {
    Rootfs::open(rootfs)?.read_file(path)
}

/// Removes one entry of the guest at `rootfs` (see [`Rootfs::remove_file`]).
pub fn remove_file(rootfs: &Path, path: &Path) -> Result<bool, RootfsError> {
    Rootfs::open(rootfs)?.remove_file(path)
}

/// Creates a directory and its parents in the guest at `rootfs`.
pub fn create_dir_all(rootfs: &Path, path: &Path, mode: u32) -> Result<(), RootfsError> {
    Rootfs::open(rootfs)?.create_dir_all(path, mode)
}
