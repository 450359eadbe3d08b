//! Listing and removing whole trees inside a guest rootfs, descending only through real
//! directories (each opened with `O_NOFOLLOW` from its parent), never through a symlink.

use std::ffi::{CStr, OsString};
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use rustix::fs::{AtFlags, Dir, FileType, Mode, OFlags};
use rustix::io::Errno;

use super::{Rootfs, RootfsError, io_err};

impl Rootfs {
    /// The names in the directory `path` (without `.` and `..`); empty if it does not exist.
    pub fn list_dir(&self, path: &Path) -> Result<Vec<OsString>, RootfsError> {
        let dir = match self.open_dir(path) {
            Ok(dir) => dir,
            Err(Errno::NOENT) => return Ok(Vec::new()),
            Err(e) => return Err(io_err("open", path)(e)),
        };
        let mut names = Vec::new();
        for entry in Dir::read_from(&dir).map_err(io_err("list", path))? {
            let entry = entry.map_err(io_err("list", path))?;
            if let Some(name) = real_name(entry.file_name()) {
                names.push(name);
            }
        }
        names.sort();
        Ok(names)
    }

    /// Removes everything inside the directory `path`, keeping the directory itself.
    pub fn clear_dir(&self, path: &Path) -> Result<(), RootfsError> {
        let dir = match self.open_dir(path) {
            Ok(dir) => dir,
            Err(Errno::NOENT) => return Ok(()),
            Err(e) => return Err(io_err("open", path)(e)),
        };
        clear(&dir, 0).map_err(io_err("empty", path))
    }

    /// Removes `path` and, if it is a directory, everything in it; absent is fine.
    pub fn remove_all(&self, path: &Path) -> Result<(), RootfsError> {
        let (dir, name) = match self.parent(path, false) {
            Ok(found) => found,
            Err(RootfsError::Io { source, .. })
                if source.kind() == std::io::ErrorKind::NotFound =>
            {
                return Ok(());
            }
            Err(e) => return Err(e),
        };
        remove_entry(&dir, name.as_bytes(), 0).map_err(io_err("remove", path))
    }
}

fn real_name(name: &CStr) -> Option<OsString> {
    let bytes = name.to_bytes();
    (bytes != b"." && bytes != b"..").then(|| std::ffi::OsStr::from_bytes(bytes).to_owned())
}

/// Deep enough for any real tree; guards against pathological nesting.
const MAX_DEPTH: usize = 256;

fn clear(dir: &OwnedFd, depth: usize) -> Result<(), Errno> {
    if depth > MAX_DEPTH {
        return Err(Errno::LOOP);
    }
    let mut names = Vec::new();
    for entry in Dir::read_from(dir)? {
        if let Some(name) = real_name(entry?.file_name()) {
            names.push(name);
        }
    }
    for name in names {
        remove_entry(dir, name.as_bytes(), depth)?;
    }
    Ok(())
}

fn remove_entry(dir: &OwnedFd, name: &[u8], depth: usize) -> Result<(), Errno> {
    let name = std::ffi::OsStr::from_bytes(name);
    let st = match rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW) {
        Ok(st) => st,
        Err(Errno::NOENT) => return Ok(()),
        Err(e) => return Err(e),
    };
    if FileType::from_raw_mode(st.st_mode) == FileType::Directory {
        let child = rustix::fs::openat(
            dir,
            name,
            OFlags::DIRECTORY | OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
        // Never descend into another filesystem (a mount inside the guest).
        if rustix::fs::fstat(&child)?.st_dev != rustix::fs::fstat(dir)?.st_dev {
            return Err(Errno::XDEV);
        }
        clear(&child, depth + 1)?;
        rustix::fs::unlinkat(dir, name, AtFlags::REMOVEDIR)
    } else {
        rustix::fs::unlinkat(dir, name, AtFlags::empty())
    }
}
