//! What makes a Berth guest unprivileged and gives it its own view of the machine, as
//! host-side primitives and data every local backend shares:
//!
//! - [`procfs`]: a private procfs instance (writable where the host's `/proc` is read-only);
//! - [`userns`]: a user namespace with one guest's id mapping, as a descriptor;
//! - [`idmount`]: idmapped mounts of a guest's root filesystem through that namespace;
//! - [`nsfile`]: namespaces kept alive on a file (`/run/netns/NAME`);
//! - [`hostids`]: the ids the host already uses (`/etc/subuid`, `/etc/passwd`, …), so the
//!   id pool never overlaps them;
//! - [`hardening`]: the seccomp deny list and the masked and read-only paths of a guest, with
//!   their OCI, LXC and nspawn renderings;
//! - [`lxcfs`]: lxcfs kept running for the host (a detached supervisor) and the files a
//!   guest gets from it.
//!
//! Nothing here knows a backend; the runtimes (`berth-runtime`) put these together.

pub mod hardening;
pub mod hostids;
pub mod idmount;
pub mod lxcfs;
pub mod nsfile;
pub mod procfs;
pub mod userns;

pub use procfs::PrivateProc;
pub use userns::UserNamespace;
