//! Unpacking a downloaded rootfs (already checked against its sha256) into a fresh directory,
//! trusting nothing in it, with the same rules as a backup import: every path relative without
//! `..`, every lookup resolved inside the target without going through a symlink
//! ([`Rootfs::open_strict`]), hard links only within the tree, device nodes only the standard
//! ones under `/dev` ([`berth_storage::backup::standard_device`]), and bounds on bytes and
//! entries. `.tar.xz` is decompressed by `xz`, `.tar.gz` in process.

use std::ffi::OsStr;
use std::fs::File;
use std::io::{BufReader, Read};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};
use std::process::{Child, Command, Stdio};

use berth_guestfs::rootfs::{NodeKind, Rootfs};
use tar::EntryType;

use super::StreamsError;
use super::index::Form;

/// Bounds on what a rootfs may unpack to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnpackLimits {
    pub max_bytes: u64,
    pub max_entries: u64,
}

impl Default for UnpackLimits {
    fn default() -> Self {
        Self {
            max_bytes: 32 << 30,
            max_entries: 2_000_000,
        }
    }
}

fn entry_error(entry: &str, reason: impl Into<String>) -> StreamsError {
    StreamsError::Entry {
        entry: entry.to_owned(),
        reason: reason.into(),
    }
}

/// Unpacks `archive` (a tarball of `form`, compressed as its name says) into `target`, an
/// existing empty directory, and returns the bytes of file content written. On error the
/// partial tree is left for the caller to remove.
pub fn unpack(
    archive: &Path,
    form: Form,
    target: &Path,
    limits: UnpackLimits,
) -> Result<u64, StreamsError> {
    let io = |e: std::io::Error| StreamsError::Io(berth_storage::fsio::io("read", archive)(e));
    let name = archive.to_string_lossy();
    let prefix: &[u8] = match form {
        Form::Tar => b"",
        Form::Combined => b"rootfs",
        Form::Squashfs => return Err(StreamsError::Squashfs),
    };
    if name.ends_with(".xz") {
        let mut child = Command::new("xz")
            .args(["--decompress", "--stdout"])
            .stdin(File::open(archive).map_err(io)?)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| StreamsError::Tool {
                tool: "xz",
                why: format!("{e} (apt install xz-utils)"),
            })?;
        let stdout = child.stdout.take().ok_or(StreamsError::Tool {
            tool: "xz",
            why: "no output pipe".into(),
        })?;
        let result = unpack_tar(BufReader::new(stdout), prefix, target, limits);
        finish_xz(child, result.is_ok())?;
        result
    } else if name.ends_with(".gz") {
        let file = File::open(archive).map_err(io)?;
        unpack_tar(
            flate2::read::GzDecoder::new(BufReader::new(file)),
            prefix,
            target,
            limits,
        )
    } else {
        let file = File::open(archive).map_err(io)?;
        unpack_tar(BufReader::new(file), prefix, target, limits)
    }
}

/// Waits for `xz`; its failure matters only when the unpacking itself went well.
fn finish_xz(mut child: Child, check: bool) -> Result<(), StreamsError> {
    if !check {
        let _ = child.kill();
        let _ = child.wait();
        return Ok(());
    }
    let output = child.wait_with_output().map_err(|e| StreamsError::Tool {
        tool: "xz",
        why: e.to_string(),
    })?;
    if !output.status.success() {
        return Err(StreamsError::Tool {
            tool: "xz",
            why: String::from_utf8_lossy(&output.stderr).trim().to_owned(),
        });
    }
    Ok(())
}

/// The path inside the tree of archive path `raw`: `Ok(None)` when it lies outside `prefix`
/// (a combined image's `metadata.yaml`, `templates/`), an error when it is absolute, has `..`
/// or a NUL byte.
fn locate(raw: &[u8], prefix: &[u8]) -> Result<Option<PathBuf>, &'static str> {
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
    if prefix.is_empty() {
        return Ok(Some(parts.iter().collect()));
    }
    match parts.split_first() {
        Some((first, rest)) if first.as_bytes() == prefix => Ok(Some(rest.iter().collect())),
        _ => Ok(None),
    }
}

fn unpack_tar(
    input: impl Read,
    prefix: &[u8],
    target: &Path,
    limits: UnpackLimits,
) -> Result<u64, StreamsError> {
    let corrupt = |e: std::io::Error| entry_error("(archive)", format!("corrupt: {e}"));
    let root = Rootfs::open_strict(target)?;
    let mut archive = tar::Archive::new(input);
    let (mut bytes, mut count) = (0u64, 0u64);
    for entry in archive.entries().map_err(corrupt)? {
        let mut entry = entry.map_err(corrupt)?;
        count += 1;
        if count > limits.max_entries {
            return Err(StreamsError::Unpacked(format!(
                "more than {} entries",
                limits.max_entries
            )));
        }
        let raw = entry.path_bytes().into_owned();
        let shown = String::from_utf8_lossy(&raw).into_owned();
        let bad = |reason: &str| entry_error(&shown, reason);
        let Some(path) = locate(&raw, prefix).map_err(bad)? else {
            continue;
        };
        let header = entry.header().clone();
        let mode = header.mode().map_err(|_| bad("has no valid mode"))?;
        let owner = (
            header.uid().map_err(|_| bad("has no valid uid"))? as u32,
            header.gid().map_err(|_| bad("has no valid gid"))? as u32,
        );
        let size = header.size().map_err(|_| bad("has no valid size"))?;
        let rootfs_err = |e: berth_guestfs::rootfs::RootfsError| bad(&crate::error_chain(&e));
        match header.entry_type() {
            EntryType::Directory => {
                if path.as_os_str().is_empty() {
                    // The root itself: a host path we made, set directly.
                    set_root_owner_mode(target, owner, mode).map_err(|e| bad(&e.to_string()))?;
                    continue;
                }
                root.create_dir_all(&path, 0o755).map_err(rootfs_err)?;
                root.set_owner_mode(&path, owner, mode)
                    .map_err(rootfs_err)?;
            }
            EntryType::Regular | EntryType::Continuous => {
                if bytes + size > limits.max_bytes {
                    return Err(StreamsError::Unpacked(format!(
                        "more than {} bytes",
                        limits.max_bytes
                    )));
                }
                let written = root
                    .write_from(&path, &mut entry, mode, owner, size)
                    .map_err(rootfs_err)?;
                if written != size {
                    return Err(bad("is shorter than its header says"));
                }
                bytes += written;
            }
            EntryType::Symlink => {
                let link = entry
                    .link_name_bytes()
                    .ok_or_else(|| bad("is a symlink without a target"))?;
                if link.is_empty() || link.contains(&0) {
                    return Err(bad("has an empty or invalid symlink target"));
                }
                // Stored as given: it resolves inside the guest when the guest runs; nothing
                // here follows it (a later entry through it is refused).
                root.symlink(&path, Path::new(OsStr::from_bytes(&link)))
                    .map_err(rootfs_err)?;
                root.set_owner_mode(&path, owner, mode)
                    .map_err(rootfs_err)?;
            }
            EntryType::Link => {
                let link = entry
                    .link_name_bytes()
                    .ok_or_else(|| bad("is a hard link without a target"))?;
                let existing = match locate(&link, prefix) {
                    Ok(Some(existing)) => existing,
                    Ok(None) => return Err(bad("links outside the root filesystem")),
                    Err(why) => return Err(bad(&format!("links to a path that {why}"))),
                };
                root.hard_link(&path, &existing).map_err(rootfs_err)?;
            }
            kind @ (EntryType::Char | EntryType::Block | EntryType::Fifo) => {
                let node = match kind {
                    EntryType::Char => NodeKind::Char,
                    EntryType::Block => NodeKind::Block,
                    _ => NodeKind::Fifo,
                };
                let device = (
                    header.device_major().ok().flatten().unwrap_or(0),
                    header.device_minor().ok().flatten().unwrap_or(0),
                );
                if node != NodeKind::Fifo
                    && !berth_storage::backup::standard_device(&path, node, device)
                {
                    tracing::warn!(entry = %shown, major = device.0, minor = device.1,
                        "image server rootfs: dropped a device node that is not a standard one");
                    continue;
                }
                root.make_node(&path, node, mode, device)
                    .map_err(rootfs_err)?;
                root.set_owner_mode(&path, owner, mode)
                    .map_err(rootfs_err)?;
            }
            EntryType::XGlobalHeader | EntryType::XHeader => {}
            other => return Err(bad(&format!("has an entry type Berth refuses ({other:?})"))),
        }
    }
    Ok(bytes)
}

fn set_root_owner_mode(target: &Path, owner: (u32, u32), mode: u32) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::os::unix::fs::chown(target, Some(owner.0), Some(owner.1))?;
    std::fs::set_permissions(target, std::fs::Permissions::from_mode(mode & 0o7777))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_relative_and_under_the_prefix() {
        assert_eq!(
            locate(b"./etc/hosts", b""),
            Ok(Some(PathBuf::from("etc/hosts")))
        );
        assert_eq!(
            locate(b"rootfs/etc", b"rootfs"),
            Ok(Some(PathBuf::from("etc")))
        );
        assert_eq!(locate(b"metadata.yaml", b"rootfs"), Ok(None));
        assert!(locate(b"/etc/passwd", b"").is_err());
        assert!(locate(b"a/../../b", b"").is_err());
        assert!(locate(b"rootfs/../x", b"rootfs").is_err());
    }
}
