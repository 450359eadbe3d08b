//! Whole-file transfer into and out of a guest (`berth file push|pull`): streaming, with the
//! owner and mode given by the caller, every path resolved inside the guest root like the rest
//! of this module. The root may be a stopped guest's rootfs or `/proc/<pid>/root` of a running
//! one (which shows the guest's own mounts, e.g. a tmpfs on /tmp).

use std::io::{Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use rustix::fs::{AtFlags, FileType, Mode, OFlags};

use super::{Rootfs, RootfsError, io_err, relative};

/// What a path in the guest is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GuestFileKind {
    File,
    Directory,
    Symlink,
    Other,
}

impl GuestFileKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::File => "file",
            Self::Directory => "directory",
            Self::Symlink => "symlink",
            Self::Other => "other",
        }
    }
}

/// Type, permission bits, owner and size of a guest path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GuestFileInfo {
    pub kind: GuestFileKind,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub size: u64,
}

fn info_of(st: &rustix::fs::Stat) -> GuestFileInfo {
    let kind = match FileType::from_raw_mode(st.st_mode) {
        FileType::RegularFile => GuestFileKind::File,
        FileType::Directory => GuestFileKind::Directory,
        FileType::Symlink => GuestFileKind::Symlink,
        _ => GuestFileKind::Other,
    };
    GuestFileInfo {
        kind,
        mode: st.st_mode & 0o7777,
        uid: st.st_uid,
        gid: st.st_gid,
        size: u64::try_from(st.st_size).unwrap_or(0),
    }
}

impl Rootfs {
    /// Opens `path` for reading (following the guest's symlinks inside the guest). A
    /// directory comes back with its entries instead of a file.
    pub fn open_entry(&self, path: &Path) -> Result<(GuestFileInfo, GuestEntry), RootfsError> {
        let fd = rustix::fs::openat2(
            &self.root,
            relative(path),
            OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NOCTTY | OFlags::NONBLOCK,
            Mode::empty(),
            self.resolve,
        )
        .map_err(io_err("open", path))?;
        let st = rustix::fs::fstat(&fd).map_err(io_err("inspect", path))?;
        let info = info_of(&st);
        match info.kind {
            GuestFileKind::File => {
                // Reads block normally from here on.
                rustix::fs::fcntl_setfl(&fd, OFlags::empty()).map_err(io_err("open", path))?;
                Ok((info, GuestEntry::File(std::fs::File::from(fd))))
            }
            GuestFileKind::Directory => Ok((info, GuestEntry::Directory(self.list_dir(path)?))),
            _ => Err(RootfsError::BadPath {
                path: path.to_owned(),
            }),
        }
    }

    /// Streams `reader` into `path` (at most `max` bytes), replacing what is there atomically;
    /// missing parents are created. Owner and mode are set before the file appears.
    pub fn write_from(
        &self,
        path: &Path,
        reader: &mut dyn Read,
        mode: u32,
        owner: (u32, u32),
        max: u64,
    ) -> Result<u64, RootfsError> {
        let (dir, name) = self.parent(path, true)?;
        if let Ok(st) = rustix::fs::statat(&dir, name, AtFlags::SYMLINK_NOFOLLOW)
            && FileType::from_raw_mode(st.st_mode) == FileType::Directory
        {
            return Err(RootfsError::BadPath {
                path: path.to_owned(),
            });
        }
        let written = self.replace_file(path, mode, Some(owner), |file| {
            let written = std::io::copy(&mut reader.take(max + 1), file)?;
            if written > max {
                return Err(std::io::ErrorKind::FileTooLarge.into());
            }
            file.flush()?;
            Ok(written)
        });
        match written {
            Err(RootfsError::Io { source, .. })
                if source.kind() == std::io::ErrorKind::FileTooLarge =>
            {
                Err(RootfsError::TooBig {
                    path: path.to_owned(),
                    max,
                })
            }
            other => other,
        }
    }
}

/// A file to stream out, or a directory's entry names.
pub enum GuestEntry {
    File(std::fs::File),
    Directory(Vec<std::ffi::OsString>),
}

impl GuestEntry {
    /// Entry names as UTF-8 (lossy), for a listing.
    pub fn names(list: &[std::ffi::OsString]) -> Vec<String> {
        list.iter()
            .map(|n| String::from_utf8_lossy(n.as_bytes()).into_owned())
            .collect()
    }
}
