//! The pieces archive extraction needs beyond plain files: owners and modes on what is
//! already there, hard links, device nodes and fifos — each resolved like every other path.

use std::path::Path;

use rustix::fs::{AtFlags, FileType, Gid, Mode, OFlags, Uid};
use rustix::io::Errno;

use super::{Rootfs, RootfsError, io_err, relative, temp_name};

/// What kind of node [`Rootfs::make_node`] makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeKind {
    Char,
    Block,
    Fifo,
}

impl Rootfs {
    /// Sets owner and permission bits of `path` itself (a symlink's own owner; its mode is
    /// left alone, Linux has none).
    pub fn set_owner_mode(
        &self,
        path: &Path,
        owner: (u32, u32),
        mode: u32,
    ) -> Result<(), RootfsError> {
        let (dir, name) = self.parent(path, false)?;
        let st = rustix::fs::statat(&dir, name, AtFlags::SYMLINK_NOFOLLOW)
            .map_err(io_err("inspect", path))?;
        rustix::fs::chownat(
            &dir,
            name,
            Some(Uid::from_raw(owner.0)),
            Some(Gid::from_raw(owner.1)),
            AtFlags::SYMLINK_NOFOLLOW,
        )
        .map_err(io_err("set the owner of", path))?;
        if FileType::from_raw_mode(st.st_mode) != FileType::Symlink {
            rustix::fs::chmodat(
                &dir,
                name,
                Mode::from_raw_mode(mode & 0o7777),
                AtFlags::empty(),
            )
            .map_err(io_err("set the mode of", path))?;
        }
        Ok(())
    }

    /// Makes `path` another name of the regular file `existing` (both inside the root).
    pub fn hard_link(&self, path: &Path, existing: &Path) -> Result<(), RootfsError> {
        let (old_dir, old_name) = self.parent(existing, false)?;
        let st = rustix::fs::statat(&old_dir, old_name, AtFlags::SYMLINK_NOFOLLOW)
            .map_err(io_err("find the link target", existing))?;
        if FileType::from_raw_mode(st.st_mode) != FileType::RegularFile {
            return Err(RootfsError::BadPath {
                path: existing.to_owned(),
            });
        }
        let (dir, name) = self.parent(path, true)?;
        let tmp = temp_name(name);
        rustix::fs::linkat(&old_dir, old_name, &dir, &tmp, AtFlags::empty())
            .map_err(io_err("link", path))?;
        rustix::fs::renameat(&dir, &tmp, &dir, name).map_err(|e| {
            let _ = rustix::fs::unlinkat(&dir, &tmp, AtFlags::empty());
            io_err("replace", path)(e)
        })
    }

    /// Makes a device node or fifo at `path` (replacing what is there).
    pub fn make_node(
        &self,
        path: &Path,
        kind: NodeKind,
        mode: u32,
        device: (u32, u32),
    ) -> Result<(), RootfsError> {
        let (dir, name) = self.parent(path, true)?;
        let file_type = match kind {
            NodeKind::Char => FileType::CharacterDevice,
            NodeKind::Block => FileType::BlockDevice,
            NodeKind::Fifo => FileType::Fifo,
        };
        match rustix::fs::unlinkat(&dir, name, AtFlags::empty()) {
            Ok(()) | Err(Errno::NOENT) => {}
            Err(e) => return Err(io_err("replace", path)(e)),
        }
        rustix::fs::mknodat(
            &dir,
            name,
            file_type,
            Mode::from_raw_mode(mode & 0o7777),
            rustix::fs::makedev(device.0, device.1),
        )
        .map_err(io_err("create the node", path))
    }

    /// Whether `path` (not following a final symlink) is a directory.
    pub fn is_dir(&self, path: &Path) -> bool {
        rustix::fs::openat2(
            &self.root,
            relative(path),
            OFlags::DIRECTORY | OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NOFOLLOW,
            Mode::empty(),
            self.resolve,
        )
        .is_ok()
    }
}
