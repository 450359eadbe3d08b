//! Refreshing an image under a running instance: `berth image build debian/12 --force`
//! rebuilds it for real (mmdebstrap) while an instance made from the old build runs; that
//! instance keeps running with its own copy of the old tree, and an instance made afterwards
//! gets the new build (the storage pool re-imports an image whose build date changed). A marker
//! file put into the old cached tree tells the two builds apart. The daemon has a cache of its
//! own (a copy of the shared test image when there is one), so the shared cache is never
//! rebuilt under other tests.

#[path = "common/real.rs"]
mod real;

use std::path::{Path, PathBuf};
use std::time::Instant;

use berth_types::Arch;
use real::{Error, RealDaemon};

const MARKER: &str = "/etc/berth-refresh-marker";

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

#[test]
fn a_refresh_keeps_instances_of_the_old_build_running() -> Result<(), Error> {
    let (true, Some(arch)) = (is_root(), Arch::host()) else {
        eprintln!("skipped: needs root on amd64 or arm64");
        return Ok(());
    };
    let cache = PathBuf::from("/var/tmp/berth-test-scratch")
        .join(format!("refresh-cache-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&cache)?;
    let result = refresh(&cache, arch);
    let _ = std::fs::remove_dir_all(&cache);
    result
}

fn refresh(cache: &Path, arch: Arch) -> Result<(), Error> {
    let key = format!("debian-12-{}", arch.as_str());
    let shared = real::image_cache().join(&key);
    if shared.join("image.json").exists() {
        let status = std::process::Command::new("cp")
            .args(["-a", "--reflink=auto"])
            .arg(&shared)
            .arg(cache.join(&key))
            .status()?;
        if !status.success() {
            return Err(format!("copying {} failed: {status}", shared.display()).into());
        }
    }
    let cache_dir = cache.display().to_string();
    let d = RealDaemon::start(&[("BERTH_IMAGES__CACHE_DIR", cache_dir.as_str())])?;
    d.ok(&["image", "build", "debian/12"])?;
    let before = d.json(&["image", "info", "debian/12"])?;
    std::fs::write(cache.join(&key).join("rootfs").join(&MARKER[1..]), "old\n")?;

    let old = d.name("old");
    d.ok(&["launch", "debian/12", &old, "--memory", "256MiB"])?;
    assert_eq!(d.exec(&old, &["cat", MARKER])?, (0, "old\n".to_owned()));

    let started = Instant::now();
    d.ok(&["image", "build", "debian/12", "--force"])?;
    eprintln!(
        "MEASURE refreshed debian/12 in {:.1}s with {old} running",
        started.elapsed().as_secs_f64()
    );
    let after = d.json(&["image", "info", "debian/12"])?;
    assert_eq!(after["status"], "cached", "{after}");
    assert_ne!(before["built_at"], after["built_at"], "a new build");
    assert!(
        !cache.join(&key).join("rootfs").join(&MARKER[1..]).exists(),
        "the cached tree is the new build"
    );

    // The old instance never noticed: still running, its tree unchanged, still usable.
    let info = d.json(&["info", &old])?;
    assert_eq!(info["state"], "running", "{info}");
    assert_eq!(d.exec(&old, &["cat", MARKER])?, (0, "old\n".to_owned()));
    let (_, state) = d.exec(&old, &["systemctl", "is-system-running", "--wait"])?;
    assert!(
        matches!(state.trim(), "running" | "degraded"),
        "systemd in {old}: {state:?}"
    );
    d.ok(&["restart", &old])?;
    assert_eq!(d.exec(&old, &["cat", MARKER])?, (0, "old\n".to_owned()));

    // A new instance gets the new build.
    let new = d.name("new");
    d.ok(&["launch", "debian/12", &new, "--memory", "256MiB"])?;
    let (code, _) = d.exec(&new, &["test", "-e", MARKER])?;
    assert_eq!(code, 1, "the new instance is made from the refreshed image");
    d.ok(&["delete", "--force", &new])?;
    d.ok(&["delete", "--force", &old])?;
    Ok(())
}
