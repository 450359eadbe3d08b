//! The ids this host already uses, so the pool Berth hands guests never overlaps them: ranges
//! delegated in `/etc/subuid` and `/etc/subgid` (rootless containers, LXD/Incus, Proxmox VE),
//! and the users and groups of `/etc/passwd` and `/etc/group`. An entry for the name `berth`
//! in the subid files is the operator's record that the range is Berth's (it keeps
//! `useradd` from handing it out) and is no conflict.

use std::path::{Path, PathBuf};

use berth_types::IdPool;

/// The owner name whose subid entries reserve ids for Berth itself.
pub const RESERVATION_OWNER: &str = "berth";

#[derive(Debug, thiserror::Error)]
pub enum HostIdsError {
    #[error("reading {}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// One use of host ids that overlaps the pool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conflict {
    /// The file and line: `/etc/subuid:3`.
    pub origin: String,
    /// What uses the ids: `lxd:1000000:1000000000`, `user alice (uid 1879048200)`.
    pub what: String,
    pub first: u32,
    pub last: u32,
}

impl std::fmt::Display for Conflict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} ({}) uses ids {}-{}",
            self.origin, self.what, self.first, self.last
        )
    }
}

/// Every use of ids in `pool` by the host whose configuration is under `etc` (`/etc`).
/// Missing files are fine (a host without `/etc/subuid` delegates nothing).
pub fn conflicts(pool: &IdPool, etc: &Path) -> Result<Vec<Conflict>, HostIdsError> {
    let mut found = Vec::new();
    for file in ["subuid", "subgid"] {
        let path = etc.join(file);
        for (line_no, line) in lines(&path)? {
            let Some((owner, first, count)) = subid_entry(&line) else {
                continue;
            };
            let last = first.saturating_add(count.saturating_sub(1));
            if owner != RESERVATION_OWNER && count > 0 && pool.overlaps(first, last) {
                found.push(Conflict {
                    origin: format!("{}:{line_no}", path.display()),
                    what: line.trim().to_owned(),
                    first,
                    last,
                });
            }
        }
    }
    for (file, kind) in [("passwd", "user"), ("group", "group")] {
        let path = etc.join(file);
        for (line_no, line) in lines(&path)? {
            let mut fields = line.split(':');
            let (Some(name), Some(id)) = (fields.next(), fields.nth(1)) else {
                continue;
            };
            let Ok(id) = id.trim().parse::<u32>() else {
                continue;
            };
            if pool.overlaps(id, id) {
                found.push(Conflict {
                    origin: format!("{}:{line_no}", path.display()),
                    what: format!("{kind} {name}"),
                    first: id,
                    last: id,
                });
            }
        }
    }
    Ok(found)
}

/// `owner:first:count`, the format of `/etc/subuid` and `/etc/subgid`.
fn subid_entry(line: &str) -> Option<(&str, u32, u32)> {
    let mut parts = line.trim().split(':');
    let owner = parts.next()?;
    let first = parts.next()?.trim().parse().ok()?;
    let count = parts.next()?.trim().parse().ok()?;
    Some((owner, first, count))
}

/// The non-comment lines of `path` with their 1-based numbers; none when it does not exist.
fn lines(path: &Path) -> Result<Vec<(usize, String)>, HostIdsError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => {
            return Err(HostIdsError::Read {
                path: path.to_owned(),
                source,
            });
        }
    };
    Ok(text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
        .map(|(i, l)| (i + 1, l.to_owned()))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn etc(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("tempdir");
        for (name, text) in files {
            std::fs::write(dir.path().join(name), text).expect("write");
        }
        dir
    }

    #[test]
    fn a_host_without_delegations_has_no_conflicts() {
        let dir = etc(&[
            (
                "passwd",
                "root:x:0:0:root:/root:/bin/bash\nnobody:x:65534:65534::/:/bin/false\n",
            ),
            ("group", "root:x:0:\n"),
        ]);
        assert_eq!(
            conflicts(&IdPool::default(), dir.path()).expect("reads"),
            vec![]
        );
        let empty = tempfile::tempdir().expect("tempdir");
        assert_eq!(
            conflicts(&IdPool::default(), empty.path()).expect("no files"),
            vec![]
        );
    }

    #[test]
    fn overlapping_delegations_users_and_groups_are_named() {
        let dir = etc(&[
            (
                "subuid",
                "# comment\nalice:100000:65536\nlxd:1879048192:65536\n",
            ),
            (
                "subgid",
                "berth:1879048192:268304384\nbob:2147287040:131072\n",
            ),
            (
                "passwd",
                "root:x:0:0::/root:/bin/sh\nsvc:x:1879113730:1::/:/bin/false\n",
            ),
            ("group", "odd:x:2147352575:\n"),
        ]);
        let found = conflicts(&IdPool::default(), dir.path()).expect("reads");
        let origins: Vec<String> = found.iter().map(|c| c.origin.clone()).collect();
        let p = |f: &str| format!("{}/{f}", dir.path().display());
        assert_eq!(
            origins,
            vec![p("subuid:3"), p("subgid:2"), p("passwd:2"), p("group:1")],
            "{found:?}"
        );
        assert_eq!(found[0].what, "lxd:1879048192:65536");
        assert_eq!(found[2].what, "user svc");
        assert!(found[3].to_string().contains("group odd"), "{}", found[3]);
    }
}
