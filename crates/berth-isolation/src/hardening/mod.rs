//! What a guest may not touch, as data every launcher renders in its own syntax: the system
//! calls its seccomp filter denies, and the `/proc` and `/sys` paths masked or made
//! read-only.
//!
//! The deny list has three tiers:
//! - [`DENY_ALWAYS`], every guest, privileged too: LXC's and Incus' default list (kernel
//!   modules, kexec, `open_by_handle_at`, which reads any inode of a filesystem by handle).
//! - [`DENY_UNPRIVILEGED`], what a user namespace opens or what is attack surface with no use
//!   in a VPS: the kernel keyring (not namespaced; Docker denies it too; systemd treats ENOSYS
//!   as "no keyring"), `bpf`, `userfaultfd` (a favourite for widening kernel race windows),
//!   `perf_event_open`, io_uring (Docker's default since 2023; programs fall back on ENOSYS),
//!   `syslog` (the host's kernel log), raw port I/O, swap and `acct`. Most of these already
//!   fail for want of a capability in the initial namespace; the filter makes it so whatever
//!   the host's sysctls say.
//! - [`DENY_WITHOUT_NESTING`]: new user namespaces inside the guest (`unshare`/`clone` with
//!   CLONE_NEWUSER; `clone3`, whose flags seccomp cannot see, is ENOSYS so libc falls back to
//!   `clone`). A container manager in the guest needs them: `security.nesting` lifts this tier.
//!
//! Masked and read-only paths follow runc's defaults plus LXC's `proc:mixed`/`sys:mixed`:
//! `/proc/sys` read-only except `net/` (the guest's own network namespace), `/sys` read-only.

pub mod render;

/// A flag argument test: the rule applies when `arg[index] & mask == value`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArgMatch {
    pub index: u32,
    pub mask: u64,
    pub value: u64,
}

/// One denied system call and the error it returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Denied {
    pub name: &'static str,
    pub errno: i32,
    /// Only calls whose argument matches; `None`: every call.
    pub arg: Option<ArgMatch>,
}

const fn deny(name: &'static str, errno: i32) -> Denied {
    Denied {
        name,
        errno,
        arg: None,
    }
}

const CLONE_NEWUSER: u64 = 0x1000_0000;

/// Every guest, privileged or not.
pub const DENY_ALWAYS: &[Denied] = &[
    deny("kexec_load", libc::EPERM),
    deny("kexec_file_load", libc::EPERM),
    deny("open_by_handle_at", libc::EPERM),
    deny("init_module", libc::EPERM),
    deny("finit_module", libc::EPERM),
    deny("delete_module", libc::EPERM),
];

/// Unprivileged guests, besides [`DENY_ALWAYS`].
pub const DENY_UNPRIVILEGED: &[Denied] = &[
    deny("keyctl", libc::ENOSYS),
    deny("add_key", libc::ENOSYS),
    deny("request_key", libc::ENOSYS),
    deny("bpf", libc::EPERM),
    deny("userfaultfd", libc::EPERM),
    deny("perf_event_open", libc::EPERM),
    deny("io_uring_setup", libc::ENOSYS),
    deny("io_uring_enter", libc::ENOSYS),
    deny("io_uring_register", libc::ENOSYS),
    deny("syslog", libc::EPERM),
    deny("iopl", libc::EPERM),
    deny("ioperm", libc::EPERM),
    deny("swapon", libc::EPERM),
    deny("swapoff", libc::EPERM),
    deny("acct", libc::EPERM),
];

/// Unprivileged guests without `security.nesting`: no user namespaces inside.
pub const DENY_WITHOUT_NESTING: &[Denied] = &[
    Denied {
        name: "unshare",
        errno: libc::EPERM,
        arg: Some(ArgMatch {
            index: 0,
            mask: CLONE_NEWUSER,
            value: CLONE_NEWUSER,
        }),
    },
    Denied {
        name: "clone",
        errno: libc::EPERM,
        // x86_64 and arm64 both take the flags first.
        arg: Some(ArgMatch {
            index: 0,
            mask: CLONE_NEWUSER,
            value: CLONE_NEWUSER,
        }),
    },
    deny("clone3", libc::ENOSYS),
];

/// The deny list of a guest.
pub fn denied(privileged: bool, nesting: bool) -> Vec<Denied> {
    let mut list = DENY_ALWAYS.to_vec();
    if !privileged {
        list.extend_from_slice(DENY_UNPRIVILEGED);
        if !nesting {
            list.extend_from_slice(DENY_WITHOUT_NESTING);
        }
    }
    list
}

/// Files and directories hidden from the guest (an empty read-only file or directory
/// mounted over them): host-wide kernel state and interfaces.
pub const MASKED_PATHS: &[&str] = &[
    "/proc/acpi",
    "/proc/asound",
    "/proc/kcore",
    "/proc/keys",
    "/proc/key-users",
    "/proc/kmsg",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/proc/sysrq-trigger",
    "/sys/firmware",
    "/sys/devices/virtual/powercap",
    "/sys/kernel/debug",
    "/sys/kernel/security",
];

/// Made read-only (a read-only bind mount over themselves).
pub const READONLY_PATHS: &[&str] = &["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys"];

/// Made writable again inside a read-only path: the guest's own network namespace's sysctls.
pub const WRITABLE_INSIDE_READONLY: &[&str] = &["/proc/sys/net"];
