//! Whole trees on the host: their size on disk, and removing them without ever deleting
//! through a mount point.

use std::collections::HashSet;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use crate::fsio::{PathIoError, io};

/// Bytes a tree takes on disk, hard links counted once; never leaves the tree's filesystem.
pub fn disk_usage(path: &Path) -> Result<u64, PathIoError> {
    let top = std::fs::symlink_metadata(path).map_err(io("inspect", path))?;
    let mut seen = HashSet::new();
    let mut total = 0u64;
    let mut stack = vec![path.to_owned()];
    while let Some(dir) = stack.pop() {
        let entries = std::fs::read_dir(&dir).map_err(io("read", &dir))?;
        for entry in entries {
            let entry = entry.map_err(io("read", &dir))?;
            let Ok(meta) = entry.metadata() else { continue };
            if meta.dev() != top.dev() {
                continue;
            }
            if meta.nlink() > 1 && !seen.insert(meta.ino()) {
                continue;
            }
            total += meta.blocks() * 512;
            if meta.is_dir() {
                stack.push(entry.path());
            }
        }
    }
    Ok(total + top.blocks() * 512)
}

/// Removes a tree, refusing when something is mounted inside it (a leftover bind mount of
/// `/dev` or `/proc` must never be deleted through).
pub fn remove_tree(path: &Path) -> Result<(), PathIoError> {
    if let Some(mount) = crate::mounts::mounted_below(path) {
        return Err(io("remove (something is mounted inside it)", &mount)(
            std::io::Error::from(std::io::ErrorKind::ResourceBusy),
        ));
    }
    match std::fs::remove_dir_all(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(io("remove", path)(e)),
    }
}
