//! The hardened rules for unpacking one entry of an untrusted tarball into a [`Rootfs`] opened
//! with [`Rootfs::open_strict`], shared by backup import and image-server rootfs unpacking:
//! paths relative without `..` or NUL, every lookup inside the tree and never through a
//! symlink, hard links only to paths of the same tree, device nodes only the standard ones
//! under `/dev`, owners and modes as the archive gives them, and bounds on entries and bytes.
//! Which archive paths map to which tree is the caller's (see [`components`]).

use std::ffi::OsStr;
use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

use berth_guestfs::rootfs::{NodeKind, Rootfs, RootfsError};
use tar::EntryType;

#[derive(Debug, thiserror::Error)]
pub enum UntarError {
    #[error("archive entry {path:?}: {reason}")]
    Entry { path: String, reason: String },
    #[error("more than {0} bytes")]
    TooBig(u64),
    #[error("more than {0} entries")]
    TooManyEntries(u64),
    #[error("the archive is truncated or corrupt")]
    Corrupt(#[source] std::io::Error),
}

/// The error for archive entry `shown` (its path as the archive has it).
pub fn entry_error(shown: &str, reason: &str) -> UntarError {
    UntarError::Entry {
        path: shown.to_owned(),
        reason: reason.to_owned(),
    }
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
/// tree's root, `dev/null`).
pub fn standard_device(path: &Path, node: NodeKind, (major, minor): (u32, u32)) -> bool {
    node == NodeKind::Char
        && STANDARD_DEVICES
            .iter()
            .any(|(at, ma, mi)| path == Path::new(at) && (major, minor) == (*ma, *mi))
}

/// The normal components of archive path `raw` (`.` skipped); an error when it is absolute,
/// has a `..` component or a NUL byte. The caller maps them to a tree and a path inside it.
pub fn components(raw: &[u8]) -> Result<Vec<&OsStr>, &'static str> {
    if raw.contains(&0) {
        return Err("has a NUL byte in its path");
    }
    let mut parts = Vec::new();
    for component in Path::new(OsStr::from_bytes(raw)).components() {
        match component {
            Component::Normal(part) => parts.push(part),
            Component::CurDir => {}
            Component::RootDir | Component::Prefix(_) => return Err("is an absolute path"),
            Component::ParentDir => return Err("has a `..` component"),
        }
    }
    Ok(parts)
}

/// What an archive may unpack to, and how much it has so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    /// Bytes of file content in all.
    pub max_bytes: u64,
    pub max_entries: u64,
    pub bytes: u64,
    pub entries: u64,
}

impl Budget {
    pub fn new(max_bytes: u64, max_entries: u64) -> Self {
        Self {
            max_bytes,
            max_entries,
            bytes: 0,
            entries: 0,
        }
    }

    /// Counts one more entry (every entry, also those outside any tree).
    pub fn count_entry(&mut self) -> Result<(), UntarError> {
        self.entries += 1;
        if self.entries > self.max_entries {
            return Err(UntarError::TooManyEntries(self.max_entries));
        }
        Ok(())
    }

    /// Refuses a file of `size` bytes that would go past the bound.
    pub fn admit(&self, size: u64) -> Result<(), UntarError> {
        if self.bytes.saturating_add(size) > self.max_bytes {
            return Err(UntarError::TooBig(self.max_bytes));
        }
        Ok(())
    }
}

/// An entry's path inside its tree and its header fields, read and checked.
#[derive(Debug, Clone)]
pub struct Fields {
    pub path: PathBuf,
    /// The path as the archive has it, for errors.
    pub shown: String,
    pub header: tar::Header,
    pub mode: u32,
    pub owner: (u32, u32),
    pub size: u64,
}

impl Fields {
    /// Reads the header of `entry`, which lies at `path` inside its tree.
    pub fn read<R: Read>(
        entry: &tar::Entry<'_, R>,
        path: PathBuf,
        shown: String,
    ) -> Result<Self, UntarError> {
        let bad = |reason: &str| entry_error(&shown, reason);
        let header = entry.header().clone();
        let mode = header.mode().map_err(|_| bad("has no valid mode"))?;
        let owner = (
            header.uid().map_err(|_| bad("has no valid uid"))? as u32,
            header.gid().map_err(|_| bad("has no valid gid"))? as u32,
        );
        let size = header.size().map_err(|_| bad("has no valid size"))?;
        Ok(Self {
            path,
            shown,
            header,
            mode,
            owner,
            size,
        })
    }
}

/// What to do with a device node outside `/dev`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutsideDev {
    /// Refuse the archive (a backup, which Berth wrote itself, never has one).
    Refuse,
    /// Drop it with a warning, like any other non-standard device node.
    Drop,
}

/// What differs between the unpackers that use [`unpack_entry`].
#[derive(Debug, Clone, Copy)]
pub struct Rules {
    /// Names the unpacker in warnings (`backup import`).
    pub what: &'static str,
    pub outside_dev: OutsideDev,
}

/// What [`unpack_entry`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unpacked {
    /// Written into the tree (or nothing to write: a pax header).
    Done,
    /// The tree's root directory itself: its owner and mode are the caller's to apply.
    Root { owner: (u32, u32), mode: u32 },
    /// A device node that is not a standard one, dropped with a warning.
    Dropped,
}

/// Unpacks `entry` (checked into `fields`) into `root`, counting its bytes in `budget`.
/// `hard_link` maps a hard link's archive target to a path in the same tree, or says why not.
pub fn unpack_entry<R: Read>(
    root: &Rootfs,
    entry: &mut tar::Entry<'_, R>,
    fields: &Fields,
    budget: &mut Budget,
    rules: Rules,
    hard_link: impl FnOnce(&[u8]) -> Result<PathBuf, String>,
) -> Result<Unpacked, UntarError> {
    let (path, shown, header) = (fields.path.as_path(), &fields.shown, &fields.header);
    let (mode, owner, size) = (fields.mode, fields.owner, fields.size);
    let bad = |reason: &str| entry_error(shown, reason);
    let rootfs_err = |e: RootfsError| bad(&crate::error_chain(&e));
    match header.entry_type() {
        EntryType::Directory => {
            if path.as_os_str().is_empty() {
                return Ok(Unpacked::Root { owner, mode });
            }
            root.create_dir_all(path, 0o755).map_err(rootfs_err)?;
            root.set_owner_mode(path, owner, mode).map_err(rootfs_err)?;
        }
        EntryType::Regular | EntryType::Continuous => {
            budget.admit(size)?;
            let written = root
                .write_from(path, entry, mode, owner, size)
                .map_err(rootfs_err)?;
            if written != size {
                return Err(bad("is shorter than its header says"));
            }
            budget.bytes += written;
        }
        EntryType::Symlink => {
            let target = entry
                .link_name_bytes()
                .ok_or_else(|| bad("is a symlink without a target"))?;
            if target.is_empty() || target.contains(&0) {
                return Err(bad("has an empty or invalid symlink target"));
            }
            // Stored as given: it resolves inside the guest when the guest runs. Nothing here
            // ever follows it (a later entry through it is refused).
            root.symlink(path, Path::new(OsStr::from_bytes(&target)))
                .map_err(rootfs_err)?;
            root.set_owner_mode(path, owner, mode).map_err(rootfs_err)?;
        }
        EntryType::Link => {
            let target = entry
                .link_name_bytes()
                .ok_or_else(|| bad("is a hard link without a target"))?;
            let existing = hard_link(&target).map_err(|why| bad(&why))?;
            root.hard_link(path, &existing).map_err(rootfs_err)?;
        }
        kind @ (EntryType::Char | EntryType::Block | EntryType::Fifo) => {
            let node = match kind {
                EntryType::Char => NodeKind::Char,
                EntryType::Block => NodeKind::Block,
                _ => NodeKind::Fifo,
            };
            if node != NodeKind::Fifo
                && rules.outside_dev == OutsideDev::Refuse
                && !path.starts_with("dev")
            {
                return Err(bad("is a device node outside /dev"));
            }
            let device = (
                header.device_major().ok().flatten().unwrap_or(0),
                header.device_minor().ok().flatten().unwrap_or(0),
            );
            if node != NodeKind::Fifo && !standard_device(path, node, device) {
                tracing::warn!(
                    entry = %shown,
                    major = device.0,
                    minor = device.1,
                    "{}: dropped a device node that is not one of the standard ones \
                     (/dev/null, zero, full, random, urandom, tty, console, ptmx)",
                    rules.what
                );
                return Ok(Unpacked::Dropped);
            }
            root.make_node(path, node, mode, device)
                .map_err(rootfs_err)?;
            root.set_owner_mode(path, owner, mode).map_err(rootfs_err)?;
        }
        EntryType::XGlobalHeader | EntryType::XHeader => {}
        other => {
            return Err(bad(&format!("has an entry type Berth refuses ({other:?})")));
        }
    }
    Ok(Unpacked::Done)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn components_are_relative_without_parent_or_nul() {
        assert_eq!(
            components(b"./rootfs/etc/hosts"),
            Ok(vec![
                OsStr::new("rootfs"),
                OsStr::new("etc"),
                OsStr::new("hosts")
            ])
        );
        assert!(components(b"/etc/passwd").is_err());
        assert!(components(b"a/../../b").is_err());
        assert!(components(b"a\0b").is_err());
    }

    #[test]
    fn only_standard_devices_at_their_own_paths() {
        let dev = |p: &str, node, d| standard_device(Path::new(p), node, d);
        assert!(dev("dev/null", NodeKind::Char, (1, 3)));
        assert!(!dev("dev/null", NodeKind::Block, (1, 3)));
        assert!(!dev("dev/mem", NodeKind::Char, (1, 1)));
        assert!(!dev("etc/null", NodeKind::Char, (1, 3)));
    }

    #[test]
    fn the_budget_bounds_entries_and_bytes() {
        let mut budget = Budget::new(10, 1);
        assert!(budget.count_entry().is_ok());
        assert!(matches!(
            budget.count_entry(),
            Err(UntarError::TooManyEntries(1))
        ));
        assert!(budget.admit(10).is_ok());
        budget.bytes = 5;
        assert!(matches!(budget.admit(6), Err(UntarError::TooBig(10))));
    }
}
