//! How many packages an image holds, read from its package manager's database inside the
//! tree through [`Rootfs`] (an image server's tree is not trusted: its links resolve inside
//! it, and only a regular file of bounded size is read): dpkg's status for the Debian family,
//! apk's installed database for Alpine.

use std::path::Path;

use berth_guestfs::Rootfs;

/// A package count and the package manager it comes from (`dpkg`, `apk`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PackageCount {
    pub count: u32,
    pub manager: &'static str,
}

/// The packages installed in `rootfs`, when a known package database is there.
pub fn count(rootfs: &Path) -> Option<PackageCount> {
    let root = Rootfs::open(rootfs).ok()?;
    let read = |path: &str| {
        root.read_optional(Path::new(path))
            .ok()
            .flatten()
            .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
    };
    let counted = |n: usize, manager| {
        u32::try_from(n)
            .ok()
            .map(|count| PackageCount { count, manager })
    };
    if let Some(status) = read("/var/lib/dpkg/status") {
        let n = status
            .lines()
            .filter(|l| *l == "Status: install ok installed")
            .count();
        return counted(n, "dpkg");
    }
    if let Some(installed) = read("/lib/apk/db/installed") {
        let n = installed.lines().filter(|l| l.starts_with("P:")).count();
        return counted(n, "apk");
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_dpkg_and_apk_databases() {
        let dir = tempfile::tempdir().expect("tempdir");
        assert_eq!(count(dir.path()), None);
        let apk = dir.path().join("lib/apk/db");
        std::fs::create_dir_all(&apk).expect("mkdir");
        std::fs::write(
            apk.join("installed"),
            "C:x\nP:musl\nV:1\n\nP:busybox\nV:1\n",
        )
        .expect("write");
        assert_eq!(
            count(dir.path()),
            Some(PackageCount {
                count: 2,
                manager: "apk"
            })
        );
        let dpkg = dir.path().join("var/lib/dpkg");
        std::fs::create_dir_all(&dpkg).expect("mkdir");
        std::fs::write(
            dpkg.join("status"),
            "Package: a\nStatus: install ok installed\n\nPackage: b\nStatus: deinstall ok config-files\n",
        )
        .expect("write");
        assert_eq!(
            count(dir.path()).map(|p| (p.count, p.manager)),
            Some((1, "dpkg"))
        );
    }

    #[test]
    fn a_database_linking_out_of_the_tree_is_not_read_on_the_host() {
        let dir = tempfile::tempdir().expect("tempdir");
        let dpkg = dir.path().join("var/lib/dpkg");
        std::fs::create_dir_all(&dpkg).expect("mkdir");
        // Resolved inside the tree, this names its own (missing) /var/lib/dpkg/status-host.
        std::os::unix::fs::symlink(
            "/../../../../../var/lib/dpkg/status-host",
            dpkg.join("status"),
        )
        .expect("symlink");
        assert_eq!(count(dir.path()), None);
    }
}
