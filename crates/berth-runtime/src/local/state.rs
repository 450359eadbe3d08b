//! Where a local backend keeps each guest's runtime files under its `state_root`, and reading
//! them back: the shim's and init's pids (with start times, so a reused pid is not mistaken).

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

/// A live process: its pid and its start time in clock ticks since boot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Proc {
    pub pid: i32,
    pub start: u64,
}

impl Proc {
    /// The process `pid` as it is now, if it exists (zombies count as gone).
    pub fn of(pid: i32) -> Option<Proc> {
        Self::stat(pid).and_then(|(proc, zombie)| (!zombie).then_some(proc))
    }

    /// The process `pid`, even as a zombie not reaped yet, and whether it is one.
    pub fn stat(pid: i32) -> Option<(Proc, bool)> {
        let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        // Fields after the command name, which may itself contain spaces and parentheses.
        let rest = &stat[stat.rfind(')')? + 2..];
        let fields: Vec<&str> = rest.split(' ').collect();
        let zombie = matches!(fields.first(), Some(&"Z") | Some(&"X"));
        let start = fields.get(19)?.parse().ok()?;
        Some((Proc { pid, start }, zombie))
    }

    /// Whether this very process (not a later one with the same pid) still runs.
    pub fn alive(&self) -> bool {
        Proc::of(self.pid) == Some(*self)
    }

    /// Whether `pid` would hear `signal` now: caught by a handler or blocked (systemd blocks
    /// its signals and reads them from a signalfd). The kernel drops a signal to a pid
    /// namespace's init that is neither.
    pub fn hears(pid: i32, signal: i32) -> bool {
        let status = fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        status_hears(&status, signal)
    }

    fn parse(text: &str) -> Option<Proc> {
        let mut it = text.split_whitespace();
        Some(Proc {
            pid: it.next()?.parse().ok()?,
            start: it.next()?.parse().ok()?,
        })
    }

    /// Polls until the process is gone; false if it still runs at the deadline.
    pub fn wait_gone(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while self.alive() {
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        true
    }
}

/// Whether a /proc/PID/status shows `signal` caught (`SigCgt`) or blocked (`SigBlk`).
pub fn status_hears(status: &str, signal: i32) -> bool {
    if !(1..=64).contains(&signal) {
        return false;
    }
    let bit = 1u64 << (signal - 1);
    status
        .lines()
        .filter_map(|l| {
            l.strip_prefix("SigCgt:")
                .or_else(|| l.strip_prefix("SigBlk:"))
        })
        .filter_map(|mask| u64::from_str_radix(mask.trim(), 16).ok())
        .any(|mask| mask & bit != 0)
}

/// The files of one guest under `state_root`.
#[derive(Debug, Clone)]
pub struct Paths {
    /// `state_root/<name>`: pid files and markers.
    pub dir: PathBuf,
    /// `state_root/youki`: where the engine keeps its own state (libcontainer, crun or runc
    /// `--root`; each keeps `youki/<name>`).
    pub engine_root: PathBuf,
    pub name: String,
}

impl Paths {
    pub fn new(state_root: &Path, name: &str) -> Paths {
        Paths {
            dir: state_root.join(name),
            engine_root: state_root.join("youki"),
            name: name.to_owned(),
        }
    }
    pub fn shim_pid(&self) -> PathBuf {
        self.dir.join("shim.pid")
    }
    /// The shim's socket for console viewers.
    pub fn console_socket(&self) -> PathBuf {
        self.dir.join("console.sock")
    }
    pub fn init_pid(&self) -> PathBuf {
        self.dir.join("init.pid")
    }
    /// Present while the daemon stops the guest, so the shim does not restart it on reboot.
    pub fn stopping(&self) -> PathBuf {
        self.dir.join("stopping")
    }
    /// The engine's state directory for this guest.
    pub fn engine_dir(&self) -> PathBuf {
        self.engine_root.join(&self.name)
    }

    pub fn write_proc(path: &Path, proc: Proc) -> Result<(), StateError> {
        let tmp = path.with_extension("tmp");
        fs::write(&tmp, format!("{} {}\n", proc.pid, proc.start))
            .and_then(|()| fs::rename(&tmp, path))
            .map_err(|source| StateError::Io {
                path: path.to_owned(),
                source,
            })
    }

    /// The process recorded in `path` if it still runs.
    pub fn live_proc(path: &Path) -> Option<Proc> {
        let text = fs::read_to_string(path).ok()?;
        Proc::parse(&text).filter(Proc::alive)
    }

    pub fn shim(&self) -> Option<Proc> {
        Self::live_proc(&self.shim_pid())
    }
    pub fn init(&self) -> Option<Proc> {
        Self::live_proc(&self.init_pid())
    }

    /// Where an unprivileged guest's root is mounted idmapped, in its supervisor's mount
    /// namespace only (`super::isolation`).
    pub fn idmapped_root(&self) -> PathBuf {
        self.dir.join("root")
    }

    /// Removes the per-guest directory and the engine's state (idempotent). Never descends
    /// into the guest's root: the idmapped mount point is unmounted and removed only if empty.
    pub fn remove_all(&self) -> Result<(), StateError> {
        let root = self.idmapped_root();
        // Not mounted here (the usual case): EINVAL, or ENOENT when there is no such dir.
        let _ = rustix::mount::unmount(
            &root,
            rustix::mount::UnmountFlags::DETACH | rustix::mount::UnmountFlags::NOFOLLOW,
        );
        match fs::remove_dir(&root) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(source) => return Err(StateError::Io { path: root, source }),
        }
        for dir in [self.engine_dir(), self.dir.clone()] {
            match fs::remove_dir_all(&dir) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(source) => return Err(StateError::Io { path: dir, source }),
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn removal_never_descends_into_the_guests_root() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let paths = Paths::new(dir.path(), "web1");
        // As if the idmapped root were still mounted: a guest's file under it.
        std::fs::create_dir_all(paths.idmapped_root().join("etc"))?;
        std::fs::write(
            paths.idmapped_root().join("etc/passwd"),
            "root:x:0:0::/root:/bin/sh",
        )?;
        assert!(paths.remove_all().is_err());
        assert!(paths.idmapped_root().join("etc/passwd").exists());
        std::fs::remove_dir_all(paths.idmapped_root())?;
        paths.remove_all()?;
        assert!(!paths.dir.exists());
        Ok(())
    }

    #[test]
    fn own_process_is_alive_and_round_trips() {
        let me = Proc::of(std::process::id() as i32).expect("self exists");
        assert!(me.alive());
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("p.pid");
        Paths::write_proc(&path, me).expect("write");
        assert_eq!(Paths::live_proc(&path), Some(me));
        let stale = Proc {
            start: me.start + 1,
            ..me
        };
        assert!(!stale.alive());
    }
}
