//! Unpacking a downloaded rootfs (already checked against its sha256) into a fresh directory,
//! trusting nothing in it, by the hardened per-entry rules a backup import uses too
//! ([`berth_storage::untar`]): every path relative without `..`, every lookup resolved inside
//! the target without going through a symlink ([`Rootfs::open_strict`]), hard links only within
//! the tree, device nodes only the standard ones under `/dev` (others, also outside `/dev`, are
//! dropped with a warning), and bounds on bytes and entries. Only archive paths under `rootfs/`
//! (a combined image) or all of them (a plain rootfs tarball) are unpacked. `.tar.xz` is decompressed by `xz`, `.tar.gz` in process.

use std::fs::File;
use std::io::{BufReader, Read};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use berth_guestfs::rootfs::Rootfs;
use berth_storage::untar::{
    self, Budget, Fields, OutsideDev, Rules, Unpacked, UntarError, unpack_entry,
};

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

fn entry_error(entry: &str, reason: &str) -> StreamsError {
    untar::entry_error(entry, reason).into()
}

impl From<UntarError> for StreamsError {
    fn from(e: UntarError) -> Self {
        match e {
            UntarError::Entry { path, reason } => StreamsError::Entry {
                entry: path,
                reason,
            },
            UntarError::TooBig(_) | UntarError::TooManyEntries(_) => {
                StreamsError::Unpacked(e.to_string())
            }
            UntarError::Corrupt(e) => StreamsError::Entry {
                entry: "(archive)".into(),
                reason: format!("corrupt: {e}"),
            },
        }
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
    let parts = untar::components(raw)?;
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
    let root = Rootfs::open_strict(target)?;
    let mut archive = tar::Archive::new(input);
    let mut budget = Budget::new(limits.max_bytes, limits.max_entries);
    let rules = Rules {
        what: "image server rootfs",
        outside_dev: OutsideDev::Drop,
    };
    for entry in archive.entries().map_err(UntarError::Corrupt)? {
        let mut entry = entry.map_err(UntarError::Corrupt)?;
        budget.count_entry()?;
        let raw = entry.path_bytes().into_owned();
        let shown = String::from_utf8_lossy(&raw).into_owned();
        let Some(path) = locate(&raw, prefix).map_err(|r| entry_error(&shown, r))? else {
            continue;
        };
        let fields = Fields::read(&entry, path, shown)?;
        let hard_link = |link: &[u8]| match locate(link, prefix) {
            Ok(Some(existing)) => Ok(existing),
            Ok(None) => Err("links outside the root filesystem".to_owned()),
            Err(why) => Err(format!("links to a path that {why}")),
        };
        let done = unpack_entry(&root, &mut entry, &fields, &mut budget, rules, hard_link)?;
        if let Unpacked::Root { owner, mode } = done {
            // The root itself: a host path we made, set directly.
            set_root_owner_mode(target, owner, mode)
                .map_err(|e| entry_error(&fields.shown, &e.to_string()))?;
        }
    }
    Ok(budget.bytes)
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
