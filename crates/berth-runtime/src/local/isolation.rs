//! An unprivileged guest's side of the local layer (`docs/UNPRIVILEGED.md`, model 3), shared by
//! every backend that boots Berth's idmapped root: what berthd records for the supervisor
//! (`isolation.json` next to `launch.json`), and what the supervisor does with it — its own
//! mount namespace with a fresh procfs on `/proc`, the guest's root mounted idmapped through the
//! guest's user namespace at `state_root/<name>/root`, the console pty given to the guest's root,
//! and the cgroups systemd manages itself delegated to the guest's root before every boot.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use berth_cgroups::Layout;
use berth_isolation::{UserNamespace, idmount};
use berth_types::IdRange;
use serde::{Deserialize, Serialize};

use super::plan::{PlanFileError, SupervisorFile};
use super::state::Paths;

#[derive(Debug, thiserror::Error)]
pub enum IsolationError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    File(#[from] PlanFileError),
    #[error("isolation.json: {0}")]
    Range(String),
    #[error("the supervisor's mount namespace: {0}")]
    Namespace(#[source] nix::Error),
    #[error(transparent)]
    Idmount(#[from] idmount::IdmountError),
    #[error(transparent)]
    Layout(#[from] berth_cgroups::LayoutError),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> IsolationError + '_ {
    move |source| IsolationError::Io {
        path: path.to_owned(),
        source,
    }
}

/// What the supervisor of an unprivileged guest needs beyond its launch plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Isolation {
    /// The host id of the guest's root (its range's start).
    pub start: u32,
    /// The guest's user namespace, bound on a file by berthd.
    pub userns: PathBuf,
    /// The guest's root filesystem as stored (guest ids on disk).
    pub source: PathBuf,
    /// Where the supervisor mounts it idmapped; the runtime boots this.
    pub root: PathBuf,
    /// Nested containers allowed (the nesting tier of the deny list lifted).
    pub nesting: bool,
}

impl SupervisorFile for Isolation {
    const NAME: &'static str = "isolation.json";
}

impl Isolation {
    /// Where the guest's idmapped root is mounted in its supervisor's mount namespace.
    pub fn root_of(paths: &Paths) -> PathBuf {
        paths.idmapped_root()
    }

    /// The supervisor's last act before its cleanup removes the guest's state directory:
    /// detaches the idmapped root, so nothing below it can be reached through the state.
    pub fn leave_supervisor(&self) -> Result<(), IsolationError> {
        idmount::unmount(&self.root)?;
        Ok(())
    }

    pub fn range(&self) -> Result<IdRange, IsolationError> {
        IdRange::new(self.start).map_err(|e| IsolationError::Range(e.to_string()))
    }

    /// The host id of the guest's `tty` group (gid 5), which owns its terminals.
    pub fn tty_gid(&self) -> u32 {
        self.start + 5
    }

    /// The supervisor's part, once, before anything else looks at mounts: a mount namespace
    /// of its own (receiving the host's mounts, sending none back), a fresh procfs on `/proc`
    /// (a read-only host `/proc` would make the guest's own procfs mount fail), and the guest's
    /// root mounted idmapped at [`Isolation::root`]. All of it goes with the supervisor.
    pub fn enter_supervisor(&self) -> Result<(), IsolationError> {
        use nix::mount::{MsFlags, mount};
        use nix::sched::{CloneFlags, unshare};
        unshare(CloneFlags::CLONE_NEWNS).map_err(IsolationError::Namespace)?;
        let none = None::<&str>;
        mount(none, "/", none, MsFlags::MS_REC | MsFlags::MS_SLAVE, none)
            .map_err(IsolationError::Namespace)?;
        let flags = MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
        mount(Some("proc"), "/proc", Some("proc"), flags, none)
            .map_err(IsolationError::Namespace)?;
        let userns = UserNamespace::open(&self.userns, self.range()?).map_err(io(&self.userns))?;
        idmount::mount(&self.source, &self.root, &userns)?;
        mount(none, &self.root, none, MsFlags::MS_PRIVATE, none)
            .map_err(IsolationError::Namespace)?;
        Ok(())
    }

    /// Gives the console pty to the guest's root and `tty` group: its `console-getty` opens it.
    pub fn own_console(&self, slave: &Path) -> Result<(), IsolationError> {
        std::os::unix::fs::chown(slave, Some(self.start), Some(self.tty_gid())).map_err(io(slave))
    }

    /// Delegates to the guest's root the cgroups its systemd manages itself: its directory in
    /// the `name=systemd` hierarchy and in cgroup2 (a hybrid host's `unified`, or pure v2),
    /// with the files that move processes and enable controllers. The controllers' own files
    /// (limits, freezer) stay the host root's, so the guest cannot lift its limits. Before
    /// every boot: runtimes make the cgroups anew.
    pub fn delegate(&self, layout: &Layout, name: &str) -> Result<(), IsolationError> {
        let mut dirs: Vec<PathBuf> = layout
            .named_systemd()
            .map(|h| berth_cgroups::guest_dir(&h.mount, name))
            .into_iter()
            .collect();
        dirs.extend(layout.unified_dir(name));
        for dir in dirs.iter().filter(|d| d.is_dir()) {
            chown(dir, self.start)?;
            for file in DELEGATED_FILES {
                let path = dir.join(file);
                if path.exists() {
                    chown(&path, self.start)?;
                }
            }
        }
        Ok(())
    }
}

/// `berthd shim delegate --name N --state-root DIR`, an OCI runtime's `createRuntime` hook:
/// delegates the guest's cgroups (made by the runtime for this boot) to its root. The hook
/// runs in the runtime's mount namespace, so it sees the cgroups as the runtime does.
pub fn delegate_main(opts: &super::invoke::Opts) -> i32 {
    let paths = Paths::new(&opts.state_root, &opts.name);
    let delegated = Isolation::read(&paths)
        .map_err(IsolationError::from)
        .and_then(|isolation| {
            let Some(isolation) = isolation else {
                return Ok(());
            };
            let layout = Layout::detect()?;
            isolation.delegate(&layout, &opts.name)
        });
    match delegated {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("berth-shim delegate {}: {e}", opts.name);
            1
        }
    }
}

/// The files of a delegated cgroup the guest's root gets (the kernel's delegation rule).
const DELEGATED_FILES: &[&str] = &[
    "cgroup.procs",
    "tasks",
    "cgroup.threads",
    "cgroup.subtree_control",
];

fn chown(path: &Path, id: u32) -> Result<(), IsolationError> {
    std::os::unix::fs::chown(path, Some(id), Some(id)).map_err(io(path))
}

/// Lets others search `dir` and each directory above it (adds `o+x`, takes nothing away): the
/// runtimes mount the guest's root and reach their state as the guest's root, a host id with
/// no right on root-owned directories.
pub fn make_searchable(dir: &Path) -> Result<(), IsolationError> {
    for d in dir.ancestors().filter(|d| !d.as_os_str().is_empty()) {
        let meta = std::fs::metadata(d).map_err(io(d))?;
        let mode = meta.permissions().mode() & 0o7777;
        if mode & 0o001 == 0 {
            tracing::info!(dir = %d.display(), "made searchable for unprivileged guests");
            std::fs::set_permissions(d, std::fs::Permissions::from_mode(mode | 0o001))
                .map_err(io(d))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn isolation_round_trips_and_clears() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let paths = Paths::new(dir.path(), "web1");
        std::fs::create_dir_all(&paths.dir)?;
        assert_eq!(Isolation::read(&paths)?, None);
        let iso = Isolation {
            start: 0x7001_0000,
            userns: "/run/berth/userns/web1".into(),
            source: "/var/lib/berth/web1/rootfs".into(),
            root: Isolation::root_of(&paths),
            nesting: false,
        };
        iso.write(&paths)?;
        assert_eq!(Isolation::read(&paths)?, Some(iso.clone()));
        assert_eq!(iso.range()?.start(), 0x7001_0000);
        assert_eq!(iso.tty_gid(), 0x7001_0005);
        Isolation::clear(&paths)?;
        assert_eq!(Isolation::read(&paths)?, None);
        Ok(())
    }

    #[test]
    fn searchable_adds_only_the_search_bit() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let inner = dir.path().join("a/b");
        std::fs::create_dir_all(&inner)?;
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700))?;
        std::fs::set_permissions(&inner, std::fs::Permissions::from_mode(0o750))?;
        make_searchable(&inner)?;
        let mode = |p: &Path| std::fs::metadata(p).map(|m| m.permissions().mode() & 0o777);
        assert_eq!(mode(dir.path())?, 0o701);
        assert_eq!(mode(&inner)?, 0o751);
        Ok(())
    }
}
