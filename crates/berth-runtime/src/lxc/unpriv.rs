//! An unprivileged LXC guest (docs/UNPRIVILEGED.md, "lxc"): the config lines that map the
//! guest's range, join berthd's user and network namespaces, load the unprivileged deny list
//! and bind lxcfs' files; and what `lxc-start` runs in: a mount namespace of its own (its
//! monitor keeps it across reboots) with a fresh `/proc` (LXC writes the maps through it) and
//! the root filesystem mounted idmapped at `<lxcpath>/<name>/rootfs`, visible only there.
//! (LXC's own `idmap=container` rootfs option is lost on an in-guest reboot in LXC 5.0.2.)

use std::ffi::CString;
use std::fmt::Write;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use berth_isolation::hardening::{denied, render};
use berth_isolation::{PrivateProc, UserNamespace, idmount};
use berth_types::IdRange;

use crate::ContainerSpec;
use crate::local::unpriv_tool::lxcfs_binds;

/// LXC's settings for unprivileged containers (capabilities, devices cgroup, `/dev/lxc`).
pub const USERNS_CONF: &str = "/usr/share/lxc/config/userns.conf";

/// The lines appended to the guest's config (later values override common.conf's).
pub fn config(spec: &ContainerSpec, range: IdRange, root: &Path, seccomp: &Path) -> String {
    let mut c = String::new();
    let mut line = |k: &str, v: &str| {
        let _ = writeln!(c, "{k} = {v}");
    };
    line("lxc.include", USERNS_CONF);
    for kind in ["u", "g"] {
        let n = berth_types::idmap::IDS_PER_GUEST;
        line("lxc.idmap", &format!("{kind} 0 {} {n}", range.start()));
    }
    // userns.conf makes /sys writable; networkd then waits for udev forever.
    line("lxc.mount.auto", "");
    line("lxc.mount.auto", "cgroup:mixed proc:mixed sys:mixed");
    line("lxc.rootfs.path", &format!("dir:{}", root.display()));
    if let Some(userns) = &spec.security.userns {
        line("lxc.namespace.share.user", &userns.display().to_string());
    }
    line("lxc.seccomp.profile", &seccomp.display().to_string());
    // LXC's 00-lxcfs.conf hook binds a host lxcfs at /var/lib/lxcfs; Berth's is its own.
    line("lxc.hook.mount", "");
    if let Some(mount) = &spec.security.lxcfs {
        for bind in lxcfs_binds(mount) {
            let target = bind.target.trim_start_matches('/');
            let entry = format!(
                "{} {target} none bind,optional,create=file 0 0",
                bind.source.display()
            );
            line("lxc.mount.entry", &entry);
        }
    }
    c
}

/// The deny list in LXC's policy syntax, for `lxc.seccomp.profile`.
pub fn seccomp_policy(nesting: bool) -> String {
    render::lxc(&denied(false, nesting))
}

/// The guest's root filesystem mounted idmapped, detached until `lxc-start`'s mount
/// namespace attaches it at `target`.
pub struct IdmappedRoot {
    tree: OwnedFd,
    target: CString,
}

impl IdmappedRoot {
    /// Clones `rootfs` idmapped through a user namespace with `range` (an idmapped mount
    /// depends on the mapping only, so a namespace of its own serves).
    pub fn prepare(rootfs: &Path, target: PathBuf, range: IdRange) -> Result<Self, String> {
        std::fs::create_dir_all(&target).map_err(|e| format!("{}: {e}", target.display()))?;
        // LXC mounts as the guest's root: every directory on the way must be searchable.
        for dir in target.ancestors().skip(1).take(2) {
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o711))
                .map_err(|e| format!("{}: {e}", dir.display()))?;
        }
        let proc = PrivateProc::new().map_err(|e| e.to_string())?;
        let userns = UserNamespace::new(range, &proc).map_err(|e| e.to_string())?;
        let tree = idmount::idmapped_tree(rootfs, &userns).map_err(|e| e.to_string())?;
        let target = CString::new(target.as_os_str().as_bytes())
            .map_err(|_| format!("{}: NUL in path", target.display()))?;
        Ok(Self { tree, target })
    }

    /// Makes `cmd` run in a mount namespace of its own, with a fresh `/proc` and this root
    /// attached at its target. `self` must live until `cmd` is spawned.
    pub fn apply(&self, cmd: &mut tokio::process::Command) {
        let tree = self.tree.as_raw_fd();
        let target = self.target.as_ptr() as usize;
        // SAFETY: between fork and exec only raw system calls run (unshare, mount,
        // move_mount), which are async-signal-safe, on a descriptor and C strings `self`
        // keeps alive until the spawn returns; nothing allocates.
        unsafe {
            cmd.pre_exec(move || {
                let target = target as *const libc::c_char;
                let fail = || Err(std::io::Error::last_os_error());
                let none = std::ptr::null::<libc::c_char>();
                private_proc()?;
                let moved = libc::syscall(
                    libc::SYS_move_mount,
                    tree,
                    c"".as_ptr(),
                    libc::AT_FDCWD,
                    target,
                    0x0000_0004, // MOVE_MOUNT_F_EMPTY_PATH
                );
                if moved < 0
                    || libc::mount(none, target, none, libc::MS_PRIVATE, std::ptr::null()) < 0
                {
                    return fail();
                }
                Ok(())
            });
        }
    }
}

/// Makes `cmd` (`lxc-attach`: it writes a helper's `uid_map` and attaches through it) run in
/// a mount namespace of its own with a fresh `/proc`, so a read-only host `/proc` does not
/// matter.
pub fn with_fresh_proc(cmd: &mut tokio::process::Command) {
    // SAFETY: between fork and exec only raw system calls run (unshare, mount), which are
    // async-signal-safe; nothing allocates.
    unsafe { cmd.pre_exec(private_proc) };
}

/// `unshare(CLONE_NEWNS)`, `/` a slave of the host's mounts, a procfs of our own on `/proc`.
/// Only async-signal-safe system calls: fit for a forked child of a threaded process.
fn private_proc() -> std::io::Result<()> {
    let none = std::ptr::null::<libc::c_char>();
    // SAFETY: plain system calls on static C strings and null pointers the kernel accepts.
    let failed = unsafe {
        libc::unshare(libc::CLONE_NEWNS) < 0
            || libc::mount(
                none,
                c"/".as_ptr(),
                none,
                libc::MS_REC | libc::MS_SLAVE,
                std::ptr::null(),
            ) < 0
            || libc::mount(
                c"proc".as_ptr(),
                c"/proc".as_ptr(),
                c"proc".as_ptr(),
                libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC,
                std::ptr::null(),
            ) < 0
    };
    if failed {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// Whether the guest whose LXC config is `config` runs in a user namespace.
pub fn is_unprivileged(config: &Path) -> bool {
    std::fs::read_to_string(config)
        .is_ok_and(|text| text.lines().any(|l| l.starts_with("lxc.idmap")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use berth_types::InstanceName;

    #[test]
    fn config_maps_the_range_and_joins_berthds_namespaces() {
        let spec = ContainerSpec {
            name: InstanceName::parse("ct-a").expect("name"),
            rootfs: "/var/lib/berth/r".into(),
            hostname: "ct-a".into(),
            limits: Default::default(),
            state_dir: "/tmp/s".into(),
            runtime: None,
            netns: Some("/run/netns/berth-ct-a".into()),
            security: crate::GuestSecurity {
                idmap: Some(IdRange::new(65_536 * 3).expect("range")),
                userns: Some("/run/berth/userns/ct-a".into()),
                nesting: false,
                lxcfs: None,
            },
        };
        let range = spec.security.idmap.expect("range");
        let text = config(
            &spec,
            range,
            Path::new("/l/ct-a/rootfs"),
            Path::new("/s/seccomp"),
        );
        for want in [
            "lxc.include = /usr/share/lxc/config/userns.conf",
            "lxc.idmap = u 0 196608 65536",
            "lxc.idmap = g 0 196608 65536",
            "lxc.mount.auto = ",
            "lxc.rootfs.path = dir:/l/ct-a/rootfs",
            "lxc.namespace.share.user = /run/berth/userns/ct-a",
            "lxc.seccomp.profile = /s/seccomp",
        ] {
            assert!(text.lines().any(|l| l == want), "{want} missing:\n{text}");
        }
        assert!(seccomp_policy(false).contains("\nkeyctl errno 38\n"));
    }
}
