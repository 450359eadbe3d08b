//! A hostile guest's symlinks must never let a write, read or removal reach the host.

use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};

use berth_guestfs::rootfs::{self, Rootfs};

/// A guest rootfs and a "host" directory beside it, both removed on drop.
struct Scene {
    guest: tempfile::TempDir,
    host: tempfile::TempDir,
}

impl Scene {
    fn new() -> Self {
        let scene = Self {
            guest: tempfile::tempdir().expect("guest dir"),
            host: tempfile::tempdir().expect("host dir"),
        };
        std::fs::create_dir_all(scene.guest.path().join("etc")).expect("guest etc");
        std::fs::write(scene.host_file("precious"), "host data").expect("host file");
        scene
    }

    fn guest(&self) -> &Path {
        self.guest.path()
    }

    fn host_file(&self, name: &str) -> PathBuf {
        self.host.path().join(name)
    }
}

#[test]
fn symlinked_file_is_replaced_not_followed() {
    let scene = Scene::new();
    let target = scene.host_file("x");
    // Absolute and relative links that point out of the guest.
    symlink(&target, scene.guest().join("etc/hostname")).expect("link");
    let dotdots = format!("/../../../../../../..{}", scene.host_file("y").display());
    symlink(&dotdots, scene.guest().join("etc/hosts")).expect("link");

    rootfs::write_file(scene.guest(), Path::new("/etc/hostname"), b"web1\n", 0o644).expect("write");
    rootfs::write_file(
        scene.guest(),
        Path::new("/etc/hosts"),
        b"127.0.0.1 localhost\n",
        0o644,
    )
    .expect("write");

    assert!(!target.exists(), "write followed the symlink to the host");
    assert!(
        !scene.host_file("y").exists(),
        "write followed the dot-dot symlink to the host"
    );
    let meta = std::fs::symlink_metadata(scene.guest().join("etc/hostname")).expect("stat");
    assert!(
        meta.file_type().is_file(),
        "the symlink was replaced by a file"
    );
    assert_eq!(
        std::fs::read_to_string(scene.guest().join("etc/hostname")).expect("read"),
        "web1\n"
    );
}

#[test]
fn symlinked_directory_resolves_inside_the_guest() {
    let scene = Scene::new();
    std::fs::remove_dir(scene.guest().join("etc")).expect("rm etc");
    symlink("/", scene.guest().join("etc")).expect("etc -> /");
    let name = format!("berth-escape-{}", uuid::Uuid::new_v4().simple());

    rootfs::write_file(scene.guest(), &Path::new("/etc").join(&name), b"x", 0o644).expect("write");

    assert!(
        !Path::new("/etc").join(&name).exists(),
        "write landed in the host's /etc"
    );
    assert!(
        scene.guest().join(&name).exists(),
        "write landed in the guest root"
    );
}

#[test]
fn directory_links_to_host_paths_stay_inside() {
    let scene = Scene::new();
    std::fs::remove_dir(scene.guest().join("etc")).expect("rm etc");
    symlink(scene.host.path(), scene.guest().join("etc")).expect("etc -> host dir");

    let wrote = rootfs::write_file(scene.guest(), Path::new("/etc/precious"), b"pwned", 0o644);
    let _created = rootfs::create_dir_all(scene.guest(), Path::new("/etc/sub"), 0o755);

    assert_eq!(
        std::fs::read_to_string(scene.host_file("precious")).expect("read"),
        "host data"
    );
    assert!(!scene.host_file("sub").exists());
    // The link resolves to the same path inside the guest, which may or may not exist.
    if wrote.is_ok() {
        let inside = scene
            .guest()
            .join(scene.host_file("precious").strip_prefix("/").expect("abs"));
        assert!(inside.exists());
    }
}

#[test]
fn dot_dot_paths_are_clamped_to_the_root() {
    let scene = Scene::new();
    rootfs::write_file(
        scene.guest(),
        Path::new("../../../../tmp/clamped"),
        b"x",
        0o600,
    )
    .expect("write");
    assert!(scene.guest().join("tmp/clamped").exists());
}

#[test]
fn reads_never_leave_the_guest() {
    let scene = Scene::new();
    symlink(
        scene.host_file("precious"),
        scene.guest().join("etc/shadow"),
    )
    .expect("link");
    let read = rootfs::read_file(scene.guest(), Path::new("/etc/shadow"));
    assert!(
        read.is_err(),
        "read followed the link to the host: {read:?}"
    );
    let root = Rootfs::open(scene.guest()).expect("open");
    assert_eq!(
        root.read_optional(Path::new("/etc/shadow"))
            .expect("optional"),
        None
    );
}

#[test]
fn removals_take_the_link_not_its_target() {
    let scene = Scene::new();
    symlink(
        scene.host_file("precious"),
        scene.guest().join("etc/machine-id"),
    )
    .expect("link");
    std::fs::create_dir_all(scene.guest().join("var/log")).expect("mkdir");
    symlink(scene.host.path(), scene.guest().join("var/log/host")).expect("link");
    symlink(scene.host.path(), scene.guest().join("var/tmp")).expect("link");

    assert!(rootfs::remove_file(scene.guest(), Path::new("/etc/machine-id")).expect("remove"));
    let root = Rootfs::open(scene.guest()).expect("open");
    root.clear_dir(Path::new("/var/log")).expect("clear");
    root.clear_dir(Path::new("/var/tmp"))
        .expect("clear a linked dir");
    root.remove_all(Path::new("/var")).expect("remove all");

    assert!(
        scene.host_file("precious").exists(),
        "the host file was removed"
    );
    assert!(!scene.guest().join("var").exists());
}

#[test]
fn symlink_helper_writes_links_inside() {
    let scene = Scene::new();
    let root = Rootfs::open(scene.guest()).expect("open");
    root.symlink(
        Path::new("/etc/systemd/system/foo.service"),
        Path::new("/dev/null"),
    )
    .expect("mask");
    let link =
        std::fs::read_link(scene.guest().join("etc/systemd/system/foo.service")).expect("link");
    assert_eq!(link, Path::new("/dev/null"));
    assert!(root.exists(Path::new("/etc/systemd/system/foo.service")));
}
