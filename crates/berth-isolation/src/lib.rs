//! What makes a Berth guest unprivileged and gives it its own view of the machine, as
//! host-side primitives and data every local backend shares:
//!
//! - [`procfs`]: a private procfs instance (writable where the host's `/proc` is read-only);
//! - [`userns`]: a user namespace with one guest's id mapping, as a descriptor;
//! - [`idmount`]: idmapped mounts of a guest's root filesystem through that namespace;
//! - [`nsfile`]: namespaces kept alive on a file (`/run/netns/NAME`);
//! - [`hostids`]: the ids the host already uses (`/etc/subuid`, `/etc/passwd`, …), so the
//!   id pool never overlaps them.
//!
//! Nothing here knows a backend; the runtimes (`berth-runtime`) put these together.

pub mod hostids;
pub mod idmount;
pub mod nsfile;
pub mod procfs;
pub mod userns;

pub use procfs::PrivateProc;
pub use userns::UserNamespace;
