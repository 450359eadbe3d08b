//! Writing a backup: the manifest, then the root filesystem walked without following
//! symlinks — hard links kept as links, device nodes and fifos as nodes, sockets skipped.

use std::collections::HashMap;
use std::fs;
use std::io::Write;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use tar::{Builder, EntryType, Header, HeaderMode};

use super::{BackupError, BackupManifest, MANIFEST};

/// What an export wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ExportStats {
    pub entries: u64,
    /// Bytes of file content (before compression).
    pub bytes: u64,
    /// Sockets, which cannot be archived and are not needed (they are made at run time).
    pub skipped: u64,
}

/// Streams `manifest`, the tree at `rootfs` and the given snapshot trees (name, path) as
/// zstd-compressed tar into `out`.
pub fn export(
    rootfs: &Path,
    snapshots: &[(String, PathBuf)],
    manifest: &BackupManifest,
    out: impl Write,
) -> Result<ExportStats, BackupError> {
    let encoder = zstd::Encoder::new(out, 3).map_err(BackupError::Write)?;
    let mut tar = Builder::new(encoder);
    tar.mode(HeaderMode::Complete);
    let json =
        serde_json::to_vec_pretty(manifest).map_err(|e| BackupError::Manifest(e.to_string()))?;
    let mut header = Header::new_gnu();
    header.set_size(json.len() as u64);
    header.set_mode(0o600);
    header.set_entry_type(EntryType::Regular);
    header.set_mtime(manifest.created_at.timestamp().max(0) as u64);
    tar.append_data(&mut header, MANIFEST, json.as_slice())
        .map_err(BackupError::Write)?;
    let mut stats = ExportStats::default();
    let mut seen: HashMap<(u64, u64), PathBuf> = HashMap::new();
    walk(&mut tar, rootfs, Path::new("rootfs"), &mut seen, &mut stats)?;
    for (name, path) in snapshots {
        // Hard links never cross trees.
        seen.clear();
        let top = Path::new("snapshots").join(name);
        walk(&mut tar, path, &top, &mut seen, &mut stats)?;
    }
    let encoder = tar.into_inner().map_err(BackupError::Write)?;
    encoder.finish().map_err(BackupError::Write)?;
    Ok(stats)
}

fn read_err(path: &Path) -> impl FnOnce(std::io::Error) -> BackupError + '_ {
    move |source| BackupError::Read {
        path: path.display().to_string(),
        source,
    }
}

fn walk<W: Write>(
    tar: &mut Builder<W>,
    dir: &Path,
    name: &Path,
    seen: &mut HashMap<(u64, u64), PathBuf>,
    stats: &mut ExportStats,
) -> Result<(), BackupError> {
    let meta = fs::symlink_metadata(dir).map_err(read_err(dir))?;
    append(tar, dir, name, &meta, seen, stats)?;
    let mut entries: Vec<_> = fs::read_dir(dir)
        .map_err(read_err(dir))?
        .collect::<Result<_, _>>()
        .map_err(read_err(dir))?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let path = entry.path();
        let child = name.join(entry.file_name());
        let meta = fs::symlink_metadata(&path).map_err(read_err(&path))?;
        if meta.is_dir() {
            walk(tar, &path, &child, seen, stats)?;
        } else {
            append(tar, &path, &child, &meta, seen, stats)?;
        }
    }
    Ok(())
}

fn append<W: Write>(
    tar: &mut Builder<W>,
    path: &Path,
    name: &Path,
    meta: &fs::Metadata,
    seen: &mut HashMap<(u64, u64), PathBuf>,
    stats: &mut ExportStats,
) -> Result<(), BackupError> {
    let kind = meta.file_type();
    if kind.is_socket() {
        stats.skipped += 1;
        return Ok(());
    }
    let mut header = Header::new_gnu();
    header.set_metadata_in_mode(meta, HeaderMode::Complete);
    let write = |e| BackupError::Write(e);
    if kind.is_file() && meta.nlink() > 1 {
        let key = (meta.dev(), meta.ino());
        if let Some(first) = seen.get(&key) {
            header.set_entry_type(EntryType::Link);
            header.set_size(0);
            tar.append_link(&mut header, name, first).map_err(write)?;
            stats.entries += 1;
            return Ok(());
        }
        seen.insert(key, name.to_owned());
    }
    if kind.is_symlink() {
        let target = fs::read_link(path).map_err(read_err(path))?;
        header.set_entry_type(EntryType::Symlink);
        header.set_size(0);
        tar.append_link(&mut header, name, target).map_err(write)?;
    } else if kind.is_file() {
        let file = fs::File::open(path).map_err(read_err(path))?;
        tar.append_data(&mut header, name, file).map_err(write)?;
        stats.bytes += meta.len();
    } else if kind.is_dir() {
        header.set_entry_type(EntryType::Directory);
        header.set_size(0);
        tar.append_data(&mut header, name, std::io::empty())
            .map_err(write)?;
    } else {
        let entry_type = if kind.is_char_device() {
            EntryType::Char
        } else if kind.is_block_device() {
            EntryType::Block
        } else {
            EntryType::Fifo
        };
        header.set_entry_type(entry_type);
        header.set_size(0);
        let rdev = meta.rdev();
        header
            .set_device_major(rustix::fs::major(rdev))
            .map_err(write)?;
        header
            .set_device_minor(rustix::fs::minor(rdev))
            .map_err(write)?;
        tar.append_data(&mut header, name, std::io::empty())
            .map_err(write)?;
    }
    stats.entries += 1;
    Ok(())
}
