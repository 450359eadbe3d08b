//! The host's mount table (`/proc/self/mountinfo`): what is mounted where, to find a pool's mount
//! and to never delete through a mount point.

use std::path::{Path, PathBuf};

/// One mount.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    pub mount_point: PathBuf,
    pub fs_type: String,
    pub source: String,
}

/// Parses mountinfo text.
pub fn parse(text: &str) -> Vec<Mount> {
    text.lines()
        .filter_map(|line| {
            let (left, right) = line.split_once(" - ")?;
            let mount_point = left.split(' ').nth(4)?;
            let mut right = right.split(' ');
            let fs_type = right.next()?;
            let source = right.next().unwrap_or("");
            Some(Mount {
                mount_point: PathBuf::from(unescape(mount_point)),
                fs_type: fs_type.to_owned(),
                source: unescape(source),
            })
        })
        .collect()
}

/// The current mount table; empty if it cannot be read.
pub fn read() -> Vec<Mount> {
    std::fs::read_to_string("/proc/self/mountinfo")
        .map(|t| parse(&t))
        .unwrap_or_default()
}

/// The last (topmost) mount exactly at `path`.
pub fn mount_at(path: &Path) -> Option<Mount> {
    read().into_iter().rev().find(|m| m.mount_point == path)
}

/// A mount point strictly below `path`, if any.
pub fn mounted_below(path: &Path) -> Option<PathBuf> {
    let path = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_owned());
    read()
        .into_iter()
        .map(|m| m.mount_point)
        .find(|m| m != &path && m.starts_with(&path))
}

/// Undoes mountinfo's octal escapes (`\040` for a space).
fn unescape(raw: &str) -> String {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\' && i + 3 < bytes.len() {
            let digits = &bytes[i + 1..i + 4];
            if digits.iter().all(|d| (b'0'..=b'7').contains(d)) {
                let value = digits
                    .iter()
                    .fold(0u32, |acc, d| acc * 8 + u32::from(d - b'0'));
                if let Ok(value) = u8::try_from(value) {
                    out.push(value);
                    i += 4;
                    continue;
                }
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_mountinfo_lines() {
        let text = "22 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw\n\
                    90 22 7:0 / /var/lib/berth/storage/btrfs rw,relatime - btrfs /dev/loop0 rw,space_cache=v2\n\
                    91 22 0:50 / /mnt/with\\040space rw - tmpfs tmpfs rw\n";
        let mounts = parse(text);
        assert_eq!(mounts.len(), 3);
        assert_eq!(mounts[1].fs_type, "btrfs");
        assert_eq!(mounts[1].source, "/dev/loop0");
        assert_eq!(mounts[2].mount_point, PathBuf::from("/mnt/with space"));
    }

    #[test]
    fn proc_is_below_root() {
        assert!(mounted_below(Path::new("/")).is_some());
        let dir = tempfile::tempdir().expect("tempdir");
        assert_eq!(mounted_below(dir.path()), None);
    }
}
