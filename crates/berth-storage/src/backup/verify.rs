//! A dry run of an import: reads the whole archive and applies every check the importer does
//! (paths, entry types, device nodes, hard links, paths through symlinks, sizes, truncation)
//! without writing anything, so an upload can be refused before any instance exists.

use std::collections::HashSet;
use std::io::Read;
use std::path::PathBuf;

use tar::{Archive, EntryType};

use super::import::{Tree, budget, check, entry_error, locate, read_manifest};
use super::{BackupError, BackupManifest, ImportLimits};

/// Checks the backup in `input` end to end; returns its manifest.
pub fn verify(input: impl Read, limits: ImportLimits) -> Result<BackupManifest, BackupError> {
    let decoder = zstd::Decoder::new(input).map_err(BackupError::Corrupt)?;
    let mut archive = Archive::new(decoder);
    let mut entries = archive.entries().map_err(BackupError::Corrupt)?;
    let manifest = read_manifest(entries.next())?;
    let mut budget = budget(limits);
    let mut symlinks: HashSet<(Tree, PathBuf)> = HashSet::new();
    let mut files: HashSet<(Tree, PathBuf)> = HashSet::new();
    for entry in entries {
        let mut entry = entry.map_err(BackupError::Corrupt)?;
        let Some((tree, fields)) = check(&entry, &mut budget)? else {
            continue;
        };
        let (path, shown, header, size) = (fields.path, fields.shown, fields.header, fields.size);
        let bad = |reason: &str| entry_error(&shown, reason);
        if let Tree::Snapshot(name) = &tree
            && !manifest.snapshots.contains(name)
        {
            return Err(bad("belongs to a snapshot the manifest does not list"));
        }
        if path
            .ancestors()
            .skip(1)
            .any(|a| symlinks.contains(&(tree.clone(), a.to_owned())))
        {
            return Err(bad("goes through a symlink"));
        }
        let key = (tree.clone(), path.clone());
        // A later entry of the same name replaces this one.
        symlinks.remove(&key);
        files.remove(&key);
        match header.entry_type() {
            EntryType::Directory | EntryType::XGlobalHeader | EntryType::XHeader => {}
            EntryType::Regular | EntryType::Continuous => {
                budget.admit(size)?;
                let read = std::io::copy(&mut entry, &mut std::io::sink())
                    .map_err(BackupError::Corrupt)?;
                if read != size {
                    return Err(bad("is shorter than its header says"));
                }
                budget.bytes += size;
                files.insert(key);
            }
            EntryType::Symlink => {
                let target = entry.link_name_bytes().unwrap_or_default();
                if target.is_empty() || target.contains(&0) {
                    return Err(bad("has an empty or invalid symlink target"));
                }
                symlinks.insert(key);
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
                if !files.contains(&(tree.clone(), existing)) {
                    return Err(bad("links to a file that is not (yet) in the archive"));
                }
                files.insert(key);
            }
            EntryType::Char | EntryType::Block if !path.starts_with("dev") => {
                return Err(bad("is a device node outside /dev"));
            }
            EntryType::Char | EntryType::Block | EntryType::Fifo => {}
            other => {
                return Err(bad(&format!("has an entry type Berth refuses ({other:?})")));
            }
        }
    }
    Ok(manifest)
}
