//! Named network namespaces, as `ip netns add` makes them: a new netns kept alive by a bind
//! mount of its `/proc/thread-self/ns/net` on `/run/netns/NAME`. Done with unshare + mount (nix),
//! on a short-lived thread so the caller's own namespace never changes.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};

use nix::mount::{MntFlags, MsFlags, mount, umount2};
use nix::sched::{CloneFlags, setns, unshare};

/// Where named netns are bound, shared with iproute2 (`ip netns list` shows ours).
pub const NETNS_RUN_DIR: &str = "/run/netns";

/// `NSFS_MAGIC` from `linux/magic.h`: the filesystem type of a bound namespace file.
const NSFS_MAGIC: nix::sys::statfs::FsType = nix::sys::statfs::FsType(0x6e73_6673);

#[derive(Debug, thiserror::Error)]
pub enum NetnsError {
    #[error("creating netns {path}")]
    Create {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("removing netns {path}")]
    Remove {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("running in netns {path}")]
    Enter {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

/// The bind-mounted netns file of an instance, what `ContainerSpec.netns` takes.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct NetnsPath(PathBuf);

impl NetnsPath {
    /// `/run/netns/NAME`.
    pub fn named(name: &str) -> Self {
        Self(Path::new(NETNS_RUN_DIR).join(name))
    }

    pub fn as_path(&self) -> &Path {
        &self.0
    }

    pub fn into_path_buf(self) -> PathBuf {
        self.0
    }

    /// Whether a live netns is bound here.
    pub fn exists(&self) -> bool {
        nix::sys::statfs::statfs(&self.0)
            .map(|s| s.filesystem_type() == NSFS_MAGIC)
            .unwrap_or(false)
    }

    /// Creates the netns, or keeps the live one already bound here.
    pub fn create(&self) -> Result<(), NetnsError> {
        if self.exists() {
            return Ok(());
        }
        let path = self.0.clone();
        let err = |source| NetnsError::Create {
            path: path.clone(),
            source,
        };
        fs::create_dir_all(NETNS_RUN_DIR).map_err(err)?;
        OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(err)?;
        let target = path.clone();
        let made = std::thread::spawn(move || -> io::Result<()> {
            // Only this thread moves to the new netns; it exits right after the bind mount.
            unshare(CloneFlags::CLONE_NEWNET).map_err(io::Error::from)?;
            mount(
                Some("/proc/thread-self/ns/net"),
                &target,
                None::<&str>,
                MsFlags::MS_BIND,
                None::<&str>,
            )
            .map_err(io::Error::from)
        })
        .join()
        .unwrap_or_else(|_| Err(io::Error::other("netns thread panicked")));
        if let Err(source) = made {
            let _ = fs::remove_file(&path);
            return Err(err(source));
        }
        Ok(())
    }

    /// Unmounts and removes the netns file; nothing there is fine.
    pub fn remove(&self) -> Result<(), NetnsError> {
        let err = |source| NetnsError::Remove {
            path: self.0.clone(),
            source,
        };
        match umount2(&self.0, MntFlags::MNT_DETACH) {
            Ok(()) | Err(nix::errno::Errno::EINVAL | nix::errno::Errno::ENOENT) => {}
            Err(e) => return Err(err(e.into())),
        }
        match fs::remove_file(&self.0) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(err(e)),
            _ => Ok(()),
        }
    }

    /// Runs `f` on a new thread inside this netns and returns its result. Sockets made there
    /// stay in this netns and may be used from any thread afterwards.
    pub fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, NetnsError> {
        let path = self.0.clone();
        std::thread::spawn(move || enter(&path).map(|()| f()))
            .join()
            .unwrap_or_else(|_| Err(io::Error::other("netns thread panicked")))
            .map_err(|source| NetnsError::Enter {
                path: self.0.clone(),
                source,
            })
    }
}

/// Moves the calling thread into the netns bound at `path`.
pub(crate) fn enter(path: &Path) -> io::Result<()> {
    let file = File::open(path)?;
    setns(&file, CloneFlags::CLONE_NEWNET).map_err(io::Error::from)
}
