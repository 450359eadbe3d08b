//! Files in and out of an instance (`/instances/{name}/files?path=`): streamed, resolved inside
//! the guest without following its symlinks out. A running guest is reached through
//! `/proc/<pid>/root`, so paths on its own mounts (a tmpfs /tmp) are the ones it sees.
//!
//! Owners are always the guest's ids. An unprivileged guest's files carry guest ids on disk,
//! but a running one's root may be an idmapped mount, where the host sees them shifted into
//! the guest's range (guest root = host id START): a pull through it maps the ids back, and a
//! push writes to the root filesystem on disk instead (the host's root cannot create files on
//! a mount that maps no id of its own; the guest sees the file at once, unless the path is
//! under a mount of its own, such as a tmpfs /tmp).

use std::io::Read;
use std::path::{Path, PathBuf};

use berth_guestfs::rootfs::{GuestEntry, GuestFileInfo, Rootfs, RootfsError};
use berth_runtime::{MetricsSource, Runtime, RuntimeStatus};
use berth_store::InstanceRecord;
use berth_types::{FieldError, IdRange};

use super::error::error_chain;
use super::{App, AppError};
use crate::app::Principal;
use crate::app::access::Want;

/// Largest file one push may write.
pub const MAX_PUSH: u64 = 4 << 30;
/// A guest has 65,536 user and group ids (0-65535), mapped to its own host range.
pub const GUEST_IDS: u32 = 65_536;

/// Where a push goes and what it becomes.
#[derive(Debug, Clone)]
pub struct PushTarget {
    pub path: PathBuf,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
}

impl PushTarget {
    /// From the query: an absolute `path`, octal `mode` (default 0644), owner (default root).
    pub fn parse(
        path: &str,
        mode: Option<&str>,
        uid: Option<u32>,
        gid: Option<u32>,
    ) -> Result<Self, FieldError> {
        let mode = match mode {
            None => 0o644,
            Some(raw) => u32::from_str_radix(raw, 8)
                .ok()
                .filter(|m| *m <= 0o7777)
                .ok_or_else(|| {
                    FieldError::new(
                        "mode",
                        format!("{raw:?} is not octal permission bits such as 0644"),
                    )
                })?,
        };
        for (field, id) in [("uid", uid), ("gid", gid)] {
            if let Some(id) = id
                && id >= GUEST_IDS
            {
                return Err(FieldError::new(
                    field,
                    format!(
                        "{id} is outside the guest's ids; give 0 to {}",
                        GUEST_IDS - 1
                    ),
                ));
            }
        }
        Ok(Self {
            path: guest_path(path)?,
            mode,
            uid: uid.unwrap_or(0),
            gid: gid.unwrap_or(0),
        })
    }
}

/// Where a guest's paths are resolved, and how its ids look there.
struct GuestRoot {
    path: PathBuf,
    /// The guest's range when `path` shows its ids shifted (an idmapped root).
    shifted: Option<IdRange>,
}

/// `range` when the host sees `root` (a guest's `/` is owned by its root, guest id 0) owned
/// by the range's first id: an idmapped view.
pub fn shifted_view(root: &Path, range: Option<IdRange>) -> Option<IdRange> {
    use std::os::unix::fs::MetadataExt;
    let range = range?;
    let owner = std::fs::metadata(root).ok()?.uid();
    range.contains(owner).then_some(range)
}

/// `info` with the guest's own ids when it was read through a `shifted` view; an id outside
/// the range is the kernel's overflow id (nobody, 65534), as the guest itself sees it.
pub fn as_guest_ids(mut info: GuestFileInfo, shifted: Option<IdRange>) -> GuestFileInfo {
    if let Some(range) = shifted {
        info.uid = range.guest_id(info.uid).unwrap_or(OVERFLOW_ID);
        info.gid = range.guest_id(info.gid).unwrap_or(OVERFLOW_ID);
    }
    info
}

/// What an unmapped id shows as inside a user namespace (`/proc/sys/fs/overflowuid`).
const OVERFLOW_ID: u32 = 65_534;

impl App {
    /// The root to resolve `record`'s guest paths in, for reading (`write` false) or writing.
    async fn guest_root(
        &self,
        record: &InstanceRecord,
        write: bool,
    ) -> Result<GuestRoot, AppError> {
        let path = self.guest_root_path(record).await?;
        let range = match record.privileged {
            true => None,
            false => self.idmap_of(&record.name)?,
        };
        let shifted = tokio::task::spawn_blocking({
            let path = path.clone();
            move || shifted_view(&path, range)
        })
        .await
        .map_err(|e| AppError::internal("file task", e))?;
        match (shifted, write, &record.rootfs) {
            (Some(_), true, Some(disk)) => Ok(GuestRoot {
                path: disk.clone(),
                shifted: None,
            }),
            _ => Ok(GuestRoot { path, shifted }),
        }
    }

    /// Refuses (400 naming `path`) a push that the guest would not see: one to a place on a
    /// filesystem of the guest's own rather than its root filesystem, judged in its live view.
    async fn check_on_disk_tree(
        &self,
        record: &InstanceRecord,
        path: &Path,
    ) -> Result<(), AppError> {
        let live = self.guest_root_path(record).await?;
        let (name, target) = (record.name.clone(), path.to_owned());
        let on_root =
            tokio::task::spawn_blocking(move || Rootfs::open(&live)?.on_root_filesystem(&target))
                .await
                .map_err(|e| AppError::internal("file task", e))?
                .map_err(|e| file_error(name.as_str(), path, e))?;
        if !on_root {
            return Err(FieldError::new(
                "path",
                format!(
                    "{} is on a filesystem of the guest's own (its /proc, /sys, /dev or a tmpfs \
                     such as /tmp), which a push cannot reach; push to its root filesystem, \
                     then move the file from inside the guest",
                    path.display()
                ),
            )
            .into());
        }
        Ok(())
    }

    async fn guest_root_path(&self, record: &InstanceRecord) -> Result<PathBuf, AppError> {
        let runtime = self.runtime(&record.backend)?;
        // Only a guest of this host has its init among this host's processes (the guests
        // Berth's collector samples in this host's cgroups): the pid a simulated or remote
        // backend reports may be any host process's, even one whose root is the host's.
        let on_this_host = self.capabilities(&record.backend).metrics == MetricsSource::Collector;
        if let (true, Ok(RuntimeStatus::Running { pid } | RuntimeStatus::Frozen { pid })) =
            (on_this_host, runtime.status(&record.name).await)
            && pid > 0
        {
            return Ok(PathBuf::from(format!("/proc/{pid}/root")));
        }
        record.rootfs.clone().ok_or_else(|| {
            AppError::Conflict(format!(
                "instance {} has no local root filesystem (backend {})",
                record.name, record.backend
            ))
        })
    }

    /// Opens `path` in `name` for reading: a file to stream, or a directory's entries.
    pub async fn pull_file(
        &self,
        caller: &Principal,
        name: &str,
        path: &str,
    ) -> Result<(GuestFileInfo, GuestEntry), AppError> {
        let record = self.instance_for(caller, name, Want::Read)?;
        let path = guest_path(path)?;
        let root = self.guest_root(&record, false).await?;
        let shown = path.clone();
        let (info, entry) =
            tokio::task::spawn_blocking(move || Rootfs::open(&root.path)?.open_entry(&path))
                .await
                .map_err(|e| AppError::internal("file task", e))?
                .map_err(|e| file_error(record.name.as_str(), &shown, e))?;
        Ok((as_guest_ids(info, root.shifted), entry))
    }

    /// Streams `body` into `target` in `name`; returns the bytes written.
    pub async fn push_file(
        &self,
        caller: &Principal,
        name: &str,
        target: PushTarget,
        body: Box<dyn Read + Send>,
    ) -> Result<u64, AppError> {
        let record = self.instance_for(caller, name, Want::Write)?;
        let root = self.guest_root(&record, true).await?;
        if root.path != self.guest_root_path(&record).await? {
            // Written through the tree on disk (an unprivileged guest's idmapped root): only a
            // place on that tree is what the guest sees; its /proc, /sys, /dev and tmpfs are not.
            self.check_on_disk_tree(&record, &target.path).await?;
        }
        let shown = target.path.clone();
        let written = tokio::task::spawn_blocking(move || {
            let mut body = body;
            Rootfs::open(&root.path)?.write_from(
                &target.path,
                &mut body,
                target.mode,
                (target.uid, target.gid),
                MAX_PUSH,
            )
        })
        .await
        .map_err(|e| AppError::internal("file task", e))?
        .map_err(|e| file_error(record.name.as_str(), &shown, e))?;
        tracing::info!(instance = %record.name, path = %shown.display(), bytes = written, "file pushed");
        Ok(written)
    }
}

/// An absolute guest path, or a 400 naming `path`.
pub fn guest_path(raw: &str) -> Result<PathBuf, FieldError> {
    let path = Path::new(raw);
    if !path.is_absolute() || raw.len() > 4096 || raw.contains('\0') {
        return Err(FieldError::new(
            "path",
            format!("{raw:?} is not an absolute path in the guest, e.g. /root/notes.txt"),
        ));
    }
    Ok(path.to_owned())
}

/// A failed transfer as an answer: what the path or the guest's state caused is a 4xx naming
/// it (a missing path, a path through a magic link or out of the guest, a directory where a
/// file was meant, a full or read-only guest disk); only berthd's own trouble is a 500.
fn file_error(instance: &str, path: &Path, err: RootfsError) -> AppError {
    let shown = path.display();
    match &err {
        // The guest stopped between finding its root and opening it.
        RootfsError::OpenRoot(..) => AppError::Conflict(format!(
            "instance {instance} stopped while its files were opened; try again"
        )),
        RootfsError::Io { source, .. } => match source.raw_os_error() {
            Some(libc::ENOENT) => AppError::NotFound(format!("{shown} in instance {instance}")),
            Some(libc::ELOOP | libc::EXDEV) => FieldError::new(
                "path",
                format!(
                    "{shown} goes through a link that leaves the guest or is a magic link \
                     (/proc/…/root, /proc/…/fd); give the path itself"
                ),
            )
            .into(),
            Some(libc::ENOTDIR | libc::EISDIR | libc::ENAMETOOLONG | libc::EINVAL) => {
                FieldError::new("path", format!("{shown}: {source}")).into()
            }
            Some(libc::EACCES | libc::EPERM | libc::EROFS | libc::ETXTBSY | libc::EBUSY) => {
                AppError::Conflict(format!("{shown} in instance {instance}: {source}"))
            }
            Some(libc::ENOSPC | libc::EDQUOT) => AppError::Conflict(format!(
                "instance {instance}'s disk is full writing {shown}; free some space or raise \
                 limits.disk"
            )),
            _ => AppError::internal("file transfer", error_chain(&err)),
        },
        RootfsError::BadPath { .. } => FieldError::new(
            "path",
            format!(
                "{shown} is not a regular file or directory (or a directory where a file was meant)"
            ),
        )
        .into(),
        RootfsError::TooBig { .. } | RootfsError::TooLarge { .. } => {
            FieldError::new("body", error_chain(&err)).into()
        }
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::chown;

    use berth_guestfs::rootfs::GuestFileKind;

    use super::*;

    fn io(errno: i32) -> RootfsError {
        RootfsError::Io {
            action: "open",
            path: "/x".into(),
            source: std::io::Error::from_raw_os_error(errno),
        }
    }

    #[test]
    fn what_a_path_can_cause_is_a_4xx() {
        let path = Path::new("/proc/self/root/etc");
        for errno in [
            libc::ELOOP,
            libc::EXDEV,
            libc::ENOTDIR,
            libc::EISDIR,
            libc::ENAMETOOLONG,
            libc::ENOENT,
            libc::EACCES,
            libc::EROFS,
            libc::ENOSPC,
            libc::EDQUOT,
        ] {
            let err = file_error("web", path, io(errno));
            assert!(
                !matches!(err, AppError::Internal(_)),
                "errno {errno} answers 500: {err}"
            );
        }
        assert!(matches!(
            file_error("web", path, io(libc::ELOOP)),
            AppError::Invalid(e) if e.field == "path"
        ));
    }

    #[test]
    fn owners_outside_the_guests_ids_are_refused_by_name() {
        let parse = |uid, gid| PushTarget::parse("/x", None, uid, gid).map_err(|e| e.field);
        assert_eq!(parse(Some(65_536), None).err().as_deref(), Some("uid"));
        assert_eq!(parse(None, Some(u32::MAX)).err().as_deref(), Some("gid"));
        assert!(parse(Some(65_535), Some(0)).is_ok());
    }

    #[test]
    fn a_shifted_view_is_recognised_and_its_ids_shown_as_the_guests() -> std::io::Result<()> {
        let range = IdRange::new(0x7001_0000).map_err(std::io::Error::other)?;
        let root = tempfile::tempdir()?;
        assert_eq!(shifted_view(root.path(), Some(range)), None, "host-owned");
        assert_eq!(shifted_view(root.path(), None), None, "privileged");
        chown(root.path(), Some(range.start()), Some(range.start()))?;
        assert_eq!(shifted_view(root.path(), Some(range)), Some(range));
        let info = GuestFileInfo {
            kind: GuestFileKind::File,
            mode: 0o644,
            uid: range.start() + 1000,
            gid: 7,
            size: 0,
        };
        let shown = as_guest_ids(info, Some(range));
        assert_eq!((shown.uid, shown.gid), (1000, OVERFLOW_ID));
        let unshifted = as_guest_ids(info, None);
        assert_eq!(unshifted.uid, range.start() + 1000);
        Ok(())
    }
}
