//! An unprivileged guest's user namespace and the network namespace it owns, both kept on
//! files (`<runtime_dir>/userns/NAME`, `/run/netns/berth-NAME`) before its veth is plugged in
//! (docs/UNPRIVILEGED.md, model 2). A netns made by the host's root belongs to the initial
//! user namespace, where the guest's root has no CAP_NET_ADMIN: networkd could not bring eth0
//! up nor sshd bind port 22. Made inside the guest's own user namespace, the guest's root owns
//! its network. Both live as long as the netns did before: from the first start to delete
//! (released by `detach`, the `DetachNetwork` undo, and when the instance's privilege changes).

use std::fs::File;
use std::io;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::{Path, PathBuf};

use berth_isolation::{PrivateProc, UserNamespace, nsfile};
use berth_net::{NetnsPath, netns_name};
use berth_types::{IdRange, InstanceName};

/// `NS_GET_USERNS` (`linux/nsfs.h`: `_IO(0xb7, 0x1)`): the user namespace owning a namespace.
const NS_GET_USERNS: libc::c_ulong = 0xb701;

#[derive(Debug, thiserror::Error)]
pub enum GuestNsError {
    #[error("making the guest's user and network namespaces: {0}")]
    Make(#[from] berth_isolation::userns::UsernsError),
    #[error("a private procfs for the guest's id maps: {0}")]
    Proc(#[from] berth_isolation::procfs::ProcError),
    #[error(transparent)]
    File(#[from] nsfile::NsFileError),
    #[error(transparent)]
    Netns(#[from] berth_net::NetnsError),
    #[error("{doing} {}: {source}", path.display())]
    Io {
        doing: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

/// Where `name`'s user namespace is kept.
pub fn userns_file(runtime_dir: &Path, name: &InstanceName) -> PathBuf {
    runtime_dir.join("userns").join(name.as_str())
}

/// The (device, inode) of the user namespace owning the namespace bound at `path`.
pub fn owner_of(path: &Path) -> io::Result<(u64, u64)> {
    let ns = File::open(path)?;
    // SAFETY: NS_GET_USERNS takes no argument and returns a new descriptor or -1.
    let fd = unsafe { libc::ioctl(ns.as_raw_fd(), NS_GET_USERNS) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the ioctl returned a descriptor we now own.
    let owner = File::from(unsafe { OwnedFd::from_raw_fd(fd) });
    let meta = owner.metadata()?;
    Ok((meta.dev(), meta.ino()))
}

/// The (device, inode) of the namespace bound at `path`.
fn identity(path: &Path) -> io::Result<(u64, u64)> {
    let meta = std::fs::metadata(path)?;
    Ok((meta.dev(), meta.ino()))
}

/// Makes sure `name`'s netns is owned by a user namespace of `range` bound on `userns`: a
/// pair from an earlier start is kept; a netns the host's root owns (an instance made
/// before, or converted) is replaced.
pub fn prepare(name: &InstanceName, range: IdRange, userns: &Path) -> Result<(), GuestNsError> {
    let netns = NetnsPath::named(&netns_name(name.as_str()));
    if netns.exists() && owner_of(netns.as_path()).ok() == identity(userns).ok() {
        tracing::debug!(instance = %name, "keeping its user and network namespaces");
        return Ok(());
    }
    netns.remove()?;
    nsfile::release(userns)?;
    let io_err = |doing, path: &Path| {
        let path = path.to_owned();
        move |source| GuestNsError::Io {
            doing,
            path,
            source,
        }
    };
    if let Some(dir) = userns.parent() {
        // Searchable by others: runtimes do their mounts as the guest's root (a host id).
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o711)
            .create(dir)
            .map_err(io_err("creating", dir))?;
    }
    let netns_dir = Path::new(berth_net::netns::NETNS_RUN_DIR);
    std::fs::create_dir_all(netns_dir).map_err(io_err("creating", netns_dir))?;
    let proc = PrivateProc::new()?;
    let (user, net) = UserNamespace::with_network(range, &proc)?;
    nsfile::bind(user.fd(), userns)?;
    if let Err(e) = nsfile::bind(net.as_fd(), netns.as_path()) {
        let _ = nsfile::release(userns);
        return Err(e.into());
    }
    tracing::info!(instance = %name, range = %range, "user and network namespaces made");
    Ok(())
}

/// Removes `name`'s user namespace file and the netns it owns; nothing there is fine.
pub fn release(name: &InstanceName, userns: &Path) -> Result<(), GuestNsError> {
    if userns.exists() {
        NetnsPath::named(&netns_name(name.as_str())).remove()?;
    }
    nsfile::release(userns)?;
    Ok(())
}
