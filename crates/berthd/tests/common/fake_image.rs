//! Stand-ins for the catalogue's images in a test daemon's image cache: a few files where a
//! real image has a Debian tree, in the cache's own layout (`<key>/rootfs`, `<key>/image.json`),
//! so the sim tier's creates walk the real image, clone and configure steps without mmdebstrap.

use std::path::Path;

use berth_image::cache::{FORMAT_VERSION, ImageMeta};
use berth_types::{Arch, ImageRef};

/// What a guest's configuration step reads or replaces.
const FILES: &[(&str, &str)] = &[
    ("etc/hostname", "debian\n"),
    (
        "etc/hosts",
        "127.0.0.1\tlocalhost\n::1\t\tlocalhost ip6-localhost ip6-loopback\n",
    ),
    ("etc/machine-id", "\n"),
    ("etc/passwd", "root:x:0:0:root:/root:/bin/bash\n"),
    ("etc/shadow", "root:*:19000:0:99999:7:::\n"),
    (
        "etc/os-release",
        "PRETTY_NAME=\"Berth test image\"\nID=debian\n",
    ),
    (
        "var/lib/dbus/machine-id",
        "0123456789abcdef0123456789abcdef\n",
    ),
    // What makes it a systemd guest with networkd and sshd to the configure step
    // (`berth_guestfs::guest::detect`); /sbin/init links to the first.
    ("lib/systemd/systemd", "#!/bin/true\n"),
    ("lib/systemd/systemd-networkd", "#!/bin/true\n"),
    ("usr/sbin/sshd", "#!/bin/true\n"),
];

const DIRS: &[&str] = &[
    "etc/ssh/sshd_config.d",
    "lib/systemd",
    "sbin",
    "usr/sbin",
    "etc/systemd/network",
    "root",
    "tmp",
    "usr/bin",
    "var/lib/dbus",
];

/// Writes a small image for every catalogue entry of this host's architecture into
/// `cache_dir`, unless one is there.
pub fn fake_images(cache_dir: &Path) -> Result<(), Box<dyn std::error::Error>> {
    let arch = Arch::host().ok_or("tests need an amd64 or arm64 host")?;
    for image in ImageRef::all() {
        let dir = cache_dir.join(image.cache_key(arch));
        if dir.join("image.json").exists() {
            continue;
        }
        let rootfs = dir.join("rootfs");
        for sub in DIRS {
            std::fs::create_dir_all(rootfs.join(sub))?;
        }
        for (path, text) in FILES {
            std::fs::write(rootfs.join(path), text)?;
        }
        std::os::unix::fs::symlink("/lib/systemd/systemd", rootfs.join("sbin/init"))?;
        let meta = ImageMeta {
            format_version: FORMAT_VERSION,
            alias: image,
            arch,
            built_at: chrono::Utc::now(),
            size: 4096,
            sources: Vec::new(),
            packages: None,
        };
        std::fs::write(dir.join("image.json"), serde_json::to_vec_pretty(&meta)?)?;
    }
    Ok(())
}
