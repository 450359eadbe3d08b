//! Berth guest filesystems: everything Berth writes inside a guest's root filesystem, kept small
//! so it is easy to audit.
//!
//! - [`rootfs::Rootfs`]: a directory fd for the guest's root; every path is resolved by the
//!   kernel inside it (`openat2` with `RESOLVE_IN_ROOT`), so a guest's symlinks never lead out;
//! - [`customise`]: hostname, machine id, root's password hash and SSH keys, the sshd login
//!   policy, a guest's WireGuard config;
//! - [`guest`]: what system a guest holds (its init, how it brings up its network, sshd);
//! - [`network`]: the guest's systemd-networkd file or ifupdown stanza, and resolv.conf.

pub mod customise;
pub mod guest;
pub mod network;
pub mod rootfs;

pub use rootfs::{Rootfs, RootfsError};
