//! Test support shared by Berth's crates: the fixed image cache, the built debian/12 image, and
//! scratch directories whose drop unmounts pools, detaches their loop devices and removes them.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test support: a failure is a test failure"
)]

use std::path::{Path, PathBuf};
use std::process::Command;

use berth_image::{BuildProgress, CachedImage, Mirrors};
use berth_types::{Arch, ImageRef};

/// Images built by tests live here between runs (only built when missing).
pub fn cache_dir() -> PathBuf {
    std::env::var_os("BERTH_TEST_IMAGE_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| "/var/cache/berth-test/images".into())
}

/// Whether the test can do what it needs (root: mounts, loop devices, chroot).
pub fn privileged() -> bool {
    if rustix::process::geteuid().is_root() {
        return true;
    }
    eprintln!("skipped: needs root");
    false
}

pub fn arch() -> Arch {
    Arch::host().expect("amd64 or arm64 host")
}

pub fn debian12() -> ImageRef {
    ImageRef::parse("debian/12").expect("known image")
}

/// debian/12 from the fixed cache, built first if missing; the progress seen, if it built.
pub async fn cached_debian12() -> (CachedImage, Vec<BuildProgress>) {
    let mut seen = Vec::new();
    let cached =
        berth_image::ensure_built(&cache_dir(), debian12(), arch(), &Mirrors::default(), |p| {
            eprintln!("build: {p}");
            seen.push(p);
        })
        .await
        .unwrap_or_else(|e| panic!("building debian/12: {}", berth_image::error_chain(&e)));
    (cached, seen)
}

/// A unique scratch directory under /var/tmp; dropping it unmounts whatever is mounted below,
/// detaches loop devices backed by files in it, and removes it.
pub struct Scratch {
    pub path: PathBuf,
}

impl Scratch {
    pub fn new(label: &str) -> Self {
        let path = PathBuf::from("/var/tmp/berth-test-scratch")
            .join(format!("{label}-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&path).expect("scratch dir");
        Self { path }
    }
}

/// Mount points at or below `dir`, deepest first.
pub fn mounts_below(dir: &Path) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = berth_storage::mounts::read()
        .into_iter()
        .map(|m| m.mount_point)
        .filter(|m| m.starts_with(dir))
        .collect();
    found.sort_by_key(|m| std::cmp::Reverse(m.components().count()));
    found
}

/// Loop devices whose backing file is below `dir`.
pub fn loops_below(dir: &Path) -> Vec<String> {
    let Ok(out) = Command::new("losetup")
        .args(["--list", "--noheadings", "--output", "NAME,BACK-FILE"])
        .output()
    else {
        return Vec::new();
    };
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let mut cols = l.split_whitespace();
            let (name, file) = (cols.next()?, cols.next()?);
            Path::new(file).starts_with(dir).then(|| name.to_owned())
        })
        .collect()
}

impl Drop for Scratch {
    fn drop(&mut self) {
        for mount in mounts_below(&self.path) {
            let _ = Command::new("umount").arg(&mount).status();
        }
        for device in loops_below(&self.path) {
            let _ = Command::new("losetup").args(["-d", &device]).status();
        }
        if mounts_below(&self.path).is_empty() {
            let _ = std::fs::remove_dir_all(&self.path);
        } else {
            eprintln!("left {} in place: still mounted", self.path.display());
        }
    }
}
