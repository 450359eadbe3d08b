//! Files in and out of an instance (`/instances/{name}/files?path=`): streamed, resolved inside
//! the guest without following its symlinks out. A running guest is reached through
//! `/proc/<pid>/root`, so paths on its own mounts (a tmpfs /tmp) are the ones it sees.

use std::io::Read;
use std::path::{Path, PathBuf};

use berth_guestfs::rootfs::{GuestEntry, GuestFileInfo, Rootfs, RootfsError};
use berth_runtime::{MetricsSource, Runtime, RuntimeStatus};
use berth_store::InstanceRecord;
use berth_types::FieldError;

use super::error::error_chain;
use super::{App, AppError};
use crate::app::Principal;
use crate::app::access::Want;

/// Largest file one push may write.
pub const MAX_PUSH: u64 = 4 << 30;

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
        Ok(Self {
            path: guest_path(path)?,
            mode,
            uid: uid.unwrap_or(0),
            gid: gid.unwrap_or(0),
        })
    }
}

impl App {
    /// The root to resolve `record`'s guest paths in.
    async fn guest_root(&self, record: &InstanceRecord) -> Result<PathBuf, AppError> {
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
        let root = self.guest_root(&record).await?;
        let shown = path.clone();
        tokio::task::spawn_blocking(move || Rootfs::open(&root)?.open_entry(&path))
            .await
            .map_err(|e| AppError::internal("file task", e))?
            .map_err(|e| file_error(record.name.as_str(), &shown, e))
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
        let root = self.guest_root(&record).await?;
        let shown = target.path.clone();
        let written = tokio::task::spawn_blocking(move || {
            let mut body = body;
            Rootfs::open(&root)?.write_from(
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

fn file_error(instance: &str, path: &Path, err: RootfsError) -> AppError {
    use std::io::ErrorKind;
    match &err {
        RootfsError::Io { source, .. } if source.kind() == ErrorKind::NotFound => {
            AppError::NotFound(format!("{} in instance {instance}", path.display()))
        }
        // The guest stopped between finding its root and opening it.
        RootfsError::OpenRoot(..) => AppError::Conflict(format!(
            "instance {instance} stopped while its files were opened; try again"
        )),
        RootfsError::Io { source, .. }
            if matches!(
                source.kind(),
                ErrorKind::NotADirectory | ErrorKind::IsADirectory
            ) || source.raw_os_error() == Some(libc::ELOOP) =>
        {
            FieldError::new("path", format!("{}: {}", path.display(), error_chain(&err))).into()
        }
        RootfsError::BadPath { .. } => FieldError::new(
            "path",
            format!(
                "{} is not a regular file or directory (or a directory where a file was meant)",
                path.display()
            ),
        )
        .into(),
        RootfsError::TooBig { .. } => FieldError::new("body", error_chain(&err)).into(),
        _ => AppError::internal("file transfer", error_chain(&err)),
    }
}
