//! Reading a backup into a fresh directory, trusting nothing in the archive: every entry's
//! path is checked (relative, no `..`, under `rootfs/` or `snapshots/<name>/`) and unpacked
//! by the shared hardened rules of [`crate::untar`]. On error the partial tree is left for the
//! caller to remove (it was empty before).

use std::collections::BTreeMap;
use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use tar::Archive;

use super::{BackupError, BackupManifest, FORMAT, MANIFEST};
use crate::untar::{self, Budget, Fields, OutsideDev, Rules, Unpacked, unpack_entry};
use berth_guestfs::rootfs::Rootfs;

/// Bounds on what an archive may unpack to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImportLimits {
    /// Bytes of file content in all.
    pub max_bytes: u64,
    pub max_entries: u64,
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
    let mut budget = budget(limits);
    let rules = Rules {
        what: "backup import",
        outside_dev: OutsideDev::Refuse,
    };
    for entry in entries {
        let mut entry = entry.map_err(BackupError::Corrupt)?;
        let Some((tree, fields)) = check(&entry, &mut budget)? else {
            // Not part of a tree (future additions): skipped.
            continue;
        };
        let root = roots.get(&tree).ok_or_else(|| {
            entry_error(
                &fields.shown,
                "belongs to a snapshot the manifest does not list",
            )
        })?;
        let hard_link = |target: &[u8]| match locate(target) {
            Ok(Some((other, existing))) if other == tree => Ok(existing),
            Ok(_) => Err("links outside its own tree".to_owned()),
            Err(r) => Err(format!("links to {}: {r}", String::from_utf8_lossy(target))),
        };
        let done = unpack_entry(root, &mut entry, &fields, &mut budget, rules, hard_link)?;
        if let Unpacked::Root { owner, mode } = done {
            root.set_owner_mode(Path::new("."), owner, mode).ok();
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

/// The budget of an import: the manifest already counted.
pub(super) fn budget(limits: ImportLimits) -> Budget {
    Budget {
        entries: 1,
        ..Budget::new(limits.max_bytes, limits.max_entries)
    }
}

pub(super) fn entry_error(shown: &str, reason: &str) -> BackupError {
    untar::entry_error(shown, reason).into()
}

/// Counts `entry` against the budget and checks its path and header, the same way for the
/// importer and the dry run; `None` for entries outside every tree.
pub(super) fn check<R: Read>(
    entry: &tar::Entry<'_, R>,
    budget: &mut Budget,
) -> Result<Option<(Tree, Fields)>, BackupError> {
    budget.count_entry()?;
    let raw = entry.path_bytes().into_owned();
    let shown = String::from_utf8_lossy(&raw).into_owned();
    let Some((tree, path)) = locate(&raw).map_err(|r| entry_error(&shown, r))? else {
        return Ok(None);
    };
    Ok(Some((tree, Fields::read(entry, path, shown)?)))
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
    let parts = untar::components(raw)?;
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
