//! Reading a backup into a fresh directory, trusting nothing in the archive: every entry's
//! path is checked (relative, no `..`, under `rootfs/`), resolved inside the target without
//! going through any symlink, and counted against the limits. On error the partial tree is
//! left for the caller to remove (it was empty before).

use std::collections::BTreeMap;
use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

use tar::{Archive, EntryType};

use super::{BackupError, BackupManifest, FORMAT, MANIFEST};
use berth_guestfs::rootfs::{NodeKind, Rootfs};

/// Bounds on what an archive may unpack to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImportLimits {
    /// Bytes of file content in all.
    pub max_bytes: u64,
    pub max_entries: u64,
}

/// The only device nodes an archive may bring: (path under the tree, major, minor) of the
/// character devices every guest has. Any other (a block device, /dev/mem, /dev/kmsg, a
/// standard name with other numbers…) would hand the guest a host device: it is dropped.
const STANDARD_DEVICES: [(&str, u32, u32); 8] = [
    ("dev/null", 1, 3),
    ("dev/zero", 1, 5),
    ("dev/full", 1, 7),
    ("dev/random", 1, 8),
    ("dev/urandom", 1, 9),
    ("dev/tty", 5, 0),
    ("dev/console", 5, 1),
    ("dev/ptmx", 5, 2),
];

/// Whether a device node is one of [`STANDARD_DEVICES`], at its own path (relative to the
/// tree's root, `dev/null`). Other unpackers of untrusted trees use the same rule.
pub fn standard_device(path: &Path, node: NodeKind, (major, minor): (u32, u32)) -> bool {
    node == NodeKind::Char
        && STANDARD_DEVICES
            .iter()
            .any(|(at, ma, mi)| path == Path::new(at) && (major, minor) == (*ma, *mi))
}

/// Largest manifest read.
const MANIFEST_MAX: u64 = 1 << 20;

/// Unpacks the backup in `input` into `target` (an existing, empty directory) and its
/// snapshots into `snapshots` (name → existing, empty directory; a snapshot in the archive
/// without one is an error), and returns its manifest.
pub fn import(
    input: impl Read,
    target: &Path,
    snapshots: &BTreeMap<String, PathBuf>,
    limits: ImportLimits,
) -> Result<BackupManifest, BackupError> {
    let decoder = zstd::Decoder::new(input).map_err(BackupError::Corrupt)?;
    let mut archive = Archive::new(decoder);
    let mut roots: BTreeMap<Tree, Rootfs> = BTreeMap::new();
    roots.insert(Tree::Rootfs, Rootfs::open_strict(target)?);
    for (name, dir) in snapshots {
        roots.insert(Tree::Snapshot(name.clone()), Rootfs::open_strict(dir)?);
    }
    let mut entries = archive.entries().map_err(BackupError::Corrupt)?;
    let manifest = read_manifest(entries.next())?;
    let (mut bytes, mut count) = (0u64, 1u64);
    for entry in entries {
        let mut entry = entry.map_err(BackupError::Corrupt)?;
        let Some(Checked {
            tree,
            path,
            shown,
            header,
            mode,
            owner,
            size,
        }) = check(&entry, &mut count, limits)?
        else {
            // Not part of a tree (future additions): skipped.
            continue;
        };
        let bad = |reason: &str| entry_error(&shown, reason);
        let root = roots
            .get(&tree)
            .ok_or_else(|| bad("belongs to a snapshot the manifest does not list"))?;
        let entry_err = |e: berth_guestfs::rootfs::RootfsError| bad(&crate::error_chain(&e));
        match header.entry_type() {
            EntryType::Directory => {
                if path.as_os_str().is_empty() {
                    root.set_owner_mode(Path::new("."), owner, mode).ok();
                    continue;
                }
                root.create_dir_all(&path, 0o755).map_err(entry_err)?;
                root.set_owner_mode(&path, owner, mode).map_err(entry_err)?;
            }
            EntryType::Regular | EntryType::Continuous => {
                if bytes + size > limits.max_bytes {
                    return Err(BackupError::TooBig(limits.max_bytes));
                }
                let room = limits.max_bytes - bytes;
                let written = root
                    .write_from(&path, &mut entry, mode, owner, room.min(size))
                    .map_err(entry_err)?;
                if written != size {
                    return Err(bad("is shorter than its header says"));
                }
                bytes += written;
            }
            EntryType::Symlink => {
                let target = entry
                    .link_name_bytes()
                    .ok_or_else(|| bad("is a symlink without a target"))?;
                if target.is_empty() || target.contains(&0) {
                    return Err(bad("has an empty or invalid symlink target"));
                }
                // Stored as given: it resolves inside the guest when the guest runs. Nothing
                // here ever follows it.
                let target = PathBuf::from(std::ffi::OsStr::from_bytes(&target));
                root.symlink(&path, &target).map_err(entry_err)?;
                root.set_owner_mode(&path, owner, mode).map_err(entry_err)?;
            }
            EntryType::Link => {
                let target = entry
                    .link_name_bytes()
                    .ok_or_else(|| bad("is a hard link without a target"))?;
                let existing = match locate(&target) {
                    Ok(Some((other, existing))) if other == tree => existing,
                    Ok(_) => return Err(bad("links outside its own tree")),
                    Err(r) => {
                        return Err(bad(&format!(
                            "links to {}: {r}",
                            String::from_utf8_lossy(&target)
                        )));
                    }
                };
                root.hard_link(&path, &existing).map_err(entry_err)?;
            }
            kind @ (EntryType::Char | EntryType::Block | EntryType::Fifo) => {
                let node = match kind {
                    EntryType::Char => NodeKind::Char,
                    EntryType::Block => NodeKind::Block,
                    _ => NodeKind::Fifo,
                };
                if node != NodeKind::Fifo && !path.starts_with("dev") {
                    return Err(bad("is a device node outside /dev"));
                }
                let device = (
                    header.device_major().ok().flatten().unwrap_or(0),
                    header.device_minor().ok().flatten().unwrap_or(0),
                );
                if node != NodeKind::Fifo && !standard_device(&path, node, device) {
                    tracing::warn!(
                        entry = %shown,
                        major = device.0,
                        minor = device.1,
                        "backup import: dropped a device node that is not one of the standard \
                         ones (/dev/null, zero, full, random, urandom, tty, console, ptmx)"
                    );
                    continue;
                }
                root.make_node(&path, node, mode, device)
                    .map_err(entry_err)?;
                root.set_owner_mode(&path, owner, mode).map_err(entry_err)?;
            }
            EntryType::XGlobalHeader | EntryType::XHeader => {}
            other => {
                return Err(bad(&format!(
                    "has an entry type this importer refuses ({other:?})"
                )));
            }
        }
    }
    Ok(manifest)
}

pub(super) fn read_manifest<R: Read>(
    first: Option<std::io::Result<tar::Entry<'_, R>>>,
) -> Result<BackupManifest, BackupError> {
    let mut entry = first
        .ok_or_else(|| BackupError::Manifest("the archive is empty".into()))?
        .map_err(BackupError::Corrupt)?;
    if entry.path_bytes().as_ref() != MANIFEST.as_bytes() {
        return Err(BackupError::Manifest(format!(
            "the first entry is {:?}",
            String::from_utf8_lossy(&entry.path_bytes())
        )));
    }
    let mut text = Vec::new();
    (&mut entry)
        .take(MANIFEST_MAX + 1)
        .read_to_end(&mut text)
        .map_err(BackupError::Corrupt)?;
    if text.len() as u64 > MANIFEST_MAX {
        return Err(BackupError::Manifest("it is larger than 1 MiB".into()));
    }
    let manifest: BackupManifest =
        serde_json::from_slice(&text).map_err(|e| BackupError::Manifest(e.to_string()))?;
    if manifest.format != FORMAT {
        return Err(BackupError::Manifest(format!(
            "format {} is not {FORMAT}; use a matching Berth",
            manifest.format
        )));
    }
    Ok(manifest)
}

/// An entry's tree, path and header fields, checked the same way by the importer and the
/// dry run.
pub(super) struct Checked {
    pub tree: Tree,
    pub path: PathBuf,
    /// The path as the archive has it, for errors.
    pub shown: String,
    pub header: tar::Header,
    pub mode: u32,
    pub owner: (u32, u32),
    pub size: u64,
}

pub(super) fn entry_error(shown: &str, reason: &str) -> BackupError {
    BackupError::Entry {
        path: shown.to_owned(),
        reason: reason.to_owned(),
    }
}

/// Counts `entry` against the limits and checks its path and header; `None` for entries
/// outside every tree.
pub(super) fn check<R: Read>(
    entry: &tar::Entry<'_, R>,
    count: &mut u64,
    limits: ImportLimits,
) -> Result<Option<Checked>, BackupError> {
    *count += 1;
    if *count > limits.max_entries {
        return Err(BackupError::TooManyEntries(limits.max_entries));
    }
    let raw = entry.path_bytes().into_owned();
    let shown = String::from_utf8_lossy(&raw).into_owned();
    let bad = |reason: &str| entry_error(&shown, reason);
    let Some((tree, path)) = locate(&raw).map_err(bad)? else {
        return Ok(None);
    };
    let header = entry.header().clone();
    let mode = header.mode().map_err(|_| bad("has no valid mode"))?;
    let owner = (
        header.uid().map_err(|_| bad("has no valid uid"))? as u32,
        header.gid().map_err(|_| bad("has no valid gid"))? as u32,
    );
    let size = header.size().map_err(|_| bad("has no valid size"))?;
    Ok(Some(Checked {
        tree,
        path,
        shown,
        header,
        mode,
        owner,
        size,
    }))
}

/// Which tree of the archive an entry belongs to.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(super) enum Tree {
    Rootfs,
    Snapshot(String),
}

/// The tree of archive path `raw` and the path inside it, checked: `rootfs/…` or
/// `snapshots/<name>/…`; `Ok(None)` for entries elsewhere.
pub(super) fn locate(raw: &[u8]) -> Result<Option<(Tree, PathBuf)>, &'static str> {
    if raw.contains(&0) {
        return Err("has a NUL byte in its path");
    }
    let path = Path::new(std::ffi::OsStr::from_bytes(raw));
    let mut parts = Vec::new();
    for component in path.components() {
        match component {
            Component::Normal(part) => parts.push(part),
            Component::CurDir => {}
            Component::RootDir | Component::Prefix(_) => return Err("is an absolute path"),
            Component::ParentDir => return Err("has a `..` component"),
        }
    }
    match parts.as_slice() {
        [first, rest @ ..] if first.as_bytes() == b"rootfs" => {
            Ok(Some((Tree::Rootfs, rest.iter().collect())))
        }
        [first, name, rest @ ..] if first.as_bytes() == b"snapshots" => {
            let name = name
                .to_str()
                .ok_or("has a snapshot name that is not UTF-8")?;
            Ok(Some((
                Tree::Snapshot(name.to_owned()),
                rest.iter().collect(),
            )))
        }
        _ => Ok(None),
    }
}
