//! What kind of system a guest's root filesystem holds, read from the tree itself through
//! [`Rootfs`] (so a guest's links resolve inside it, never out): its init (what `/sbin/init`
//! is), how it brings up its network, whether it has sshd. Configuration follows it: a
//! systemd-networkd file where networkd runs, an `ifupdown` stanza where that does, and the
//! host configuring `eth0` where neither does.

use std::path::Path;

use crate::rootfs::Rootfs;

/// The guest's PID 1, as `/sbin/init` resolves inside it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InitSystem {
    Systemd,
    /// OpenRC, run by BusyBox init (Alpine) or `openrc-init`.
    OpenRc,
    /// BusyBox init with its own `/etc/inittab` and no service manager.
    Busybox,
    /// SysV init (`/sbin/init` with an `/etc/inittab`).
    SysV,
    /// No `/sbin/init` Berth knows (or none at all).
    Unknown,
}

impl InitSystem {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Systemd => "systemd",
            Self::OpenRc => "openrc",
            Self::Busybox => "busybox",
            Self::SysV => "sysvinit",
            Self::Unknown => "unknown",
        }
    }
}

/// How the guest configures its network at boot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NetworkStyle {
    /// systemd-networkd reads `/etc/systemd/network/*.network`.
    Networkd,
    /// `ifup` reads `/etc/network/interfaces` (Debian's ifupdown, BusyBox's, Alpine's).
    Ifupdown,
    /// Nothing Berth knows: the host puts the addresses and routes on `eth0`.
    None,
}

/// A guest system as found in its root filesystem.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GuestSystem {
    pub init: InitSystem,
    pub network: NetworkStyle,
    /// An OpenSSH server is installed.
    pub sshd: bool,
}

impl GuestSystem {
    /// Whether the host must put `eth0`'s addresses and routes in place at each start: the
    /// guest has nothing that would (or Berth tells its ifupdown to leave `eth0` alone).
    pub fn host_configures_network(&self) -> bool {
        self.network != NetworkStyle::Networkd
    }

    /// What Berth cannot configure in this guest, one line each (empty when everything).
    pub fn unconfigured(&self, wireguard: bool) -> Vec<String> {
        let mut notes = Vec::new();
        if !self.sshd {
            notes.push("root login over SSH: the guest has no sshd (keys and password are written; install an SSH server to use them)".to_owned());
        }
        if wireguard && self.init != InitSystem::Systemd {
            notes.push(format!(
                "WireGuard: /etc/wireguard/wg0.conf is written but not started at boot (the guest's init is {}, not systemd)",
                self.init.as_str()
            ));
        }
        if self.init == InitSystem::Unknown {
            notes.push("init: /sbin/init is not an init Berth knows; it may not boot, and clean shutdown falls back to a kill after the timeout".to_owned());
        }
        notes
    }
}

const SYSTEMD: &[&str] = &["/lib/systemd/systemd", "/usr/lib/systemd/systemd"];
const BUSYBOX: &[&str] = &["/bin/busybox", "/usr/bin/busybox", "/sbin/busybox"];
const OPENRC_INIT: &[&str] = &["/sbin/openrc-init", "/usr/sbin/openrc-init"];
const OPENRC: &[&str] = &["/sbin/openrc", "/usr/sbin/openrc", "/sbin/openrc-run"];
const NETWORKD: &[&str] = &[
    "/lib/systemd/systemd-networkd",
    "/usr/lib/systemd/systemd-networkd",
];
const IFUP: &[&str] = &["/sbin/ifup", "/usr/sbin/ifup", "/bin/ifup"];
const SSHD: &[&str] = &["/usr/sbin/sshd", "/sbin/sshd", "/usr/bin/sshd"];

/// Reads what system `root` holds. Nothing is written; nothing outside the guest is looked at.
pub fn detect(root: &Rootfs) -> GuestSystem {
    let any = |paths: &[&str]| paths.iter().any(|p| root.identity(Path::new(p)).is_some());
    let init = root.identity(Path::new("/sbin/init"));
    let is = |paths: &[&str]| {
        init.is_some() && paths.iter().any(|p| root.identity(Path::new(p)) == init)
    };
    let init = if init.is_none() {
        InitSystem::Unknown
    } else if is(SYSTEMD) {
        InitSystem::Systemd
    } else if is(OPENRC_INIT) || (is(BUSYBOX) && any(OPENRC)) {
        InitSystem::OpenRc
    } else if is(BUSYBOX) {
        InitSystem::Busybox
    } else if any(&["/etc/inittab"]) {
        InitSystem::SysV
    } else {
        InitSystem::Unknown
    };
    let network = if init == InitSystem::Systemd && any(NETWORKD) {
        NetworkStyle::Networkd
    } else if any(IFUP) || any(&["/etc/network/interfaces"]) {
        NetworkStyle::Ifupdown
    } else {
        NetworkStyle::None
    };
    GuestSystem {
        init,
        network,
        sshd: any(SSHD),
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::symlink;

    use super::*;

    fn tree(files: &[&str], links: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("tempdir");
        for file in files {
            let path = dir.path().join(file.trim_start_matches('/'));
            std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
            std::fs::write(&path, b"x").expect("write");
        }
        for (link, target) in links {
            let path = dir.path().join(link.trim_start_matches('/'));
            std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
            symlink(target, &path).expect("symlink");
        }
        dir
    }

    fn found(files: &[&str], links: &[(&str, &str)]) -> GuestSystem {
        let dir = tree(files, links);
        detect(&Rootfs::open(dir.path()).expect("open"))
    }

    #[test]
    fn debian_with_systemd_and_networkd() {
        let g = found(
            &[
                "/lib/systemd/systemd",
                "/lib/systemd/systemd-networkd",
                "/usr/sbin/sshd",
            ],
            &[("/sbin/init", "/lib/systemd/systemd")],
        );
        assert_eq!(g.init, InitSystem::Systemd);
        assert_eq!(g.network, NetworkStyle::Networkd);
        assert!(g.sshd && !g.host_configures_network());
        assert!(g.unconfigured(true).is_empty());
    }

    #[test]
    fn alpine_busybox_init_with_openrc() {
        let g = found(
            &["/bin/busybox", "/sbin/openrc", "/etc/network/interfaces"],
            &[("/sbin/init", "../bin/busybox")],
        );
        assert_eq!(g.init, InitSystem::OpenRc);
        assert_eq!(g.network, NetworkStyle::Ifupdown);
        assert!(g.host_configures_network());
        let notes = g.unconfigured(true);
        assert!(notes.iter().any(|n| n.contains("no sshd")), "{notes:?}");
        assert!(notes.iter().any(|n| n.contains("WireGuard")), "{notes:?}");
    }

    #[test]
    fn plain_busybox_and_unknown_inits() {
        let g = found(&["/bin/busybox"], &[("/sbin/init", "/bin/busybox")]);
        assert_eq!(
            (g.init, g.network),
            (InitSystem::Busybox, NetworkStyle::None)
        );
        let g = found(&["/sbin/init", "/etc/inittab"], &[]);
        assert_eq!(g.init, InitSystem::SysV);
        let g = found(&["/sbin/init"], &[]);
        assert_eq!(g.init, InitSystem::Unknown);
        assert!(g.unconfigured(false).iter().any(|n| n.contains("init")));
        assert_eq!(found(&[], &[]).init, InitSystem::Unknown);
    }

    #[test]
    fn links_leaving_the_guest_are_resolved_inside_it() {
        // An absolute link is the guest's own /: it must never reach the host's systemd.
        let g = found(&[], &[("/sbin/init", "/../../../../lib/systemd/systemd")]);
        assert_eq!(g.init, InitSystem::Unknown);
    }
}
