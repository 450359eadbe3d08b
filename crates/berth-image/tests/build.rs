//! Real builds with mmdebstrap: debian/12 into the fixed test cache (built once, then reused),
//! and builds that fail or are cancelled leaving nothing behind.

use berth_testkit as common;

use std::path::Path;
use std::time::{Duration, Instant};

use berth_image::{BuildProgress, Mirrors};
use common::{Scratch, arch, cached_debian12, debian12, privileged};

#[tokio::test(flavor = "multi_thread")]
async fn debian_12_is_built_once_and_fit_for_containers() {
    if !privileged() {
        return;
    }
    let started = Instant::now();
    let (cached, seen) = cached_debian12().await;
    if !seen.is_empty() {
        eprintln!(
            "MEASURE built debian/12 in {:.1}s, {} MiB",
            started.elapsed().as_secs_f64(),
            cached.size >> 20
        );
        let steps: Vec<u32> = seen.iter().map(|p| p.step).collect();
        assert!(
            steps.windows(2).all(|w| w[0] <= w[1]),
            "steps go forward: {steps:?}"
        );
        assert_eq!(steps.first(), Some(&1));
        assert_eq!(steps.last(), Some(&5));
        assert!(seen.iter().all(|p| p.steps == 5));
        assert!(
            seen.iter().any(|p| p.step == 2 && p.detail.is_some()),
            "bootstrapper output refines step 2"
        );
        assert_eq!(seen[0].to_string(), "resolving mirror (1/5)");
    }
    eprintln!("MEASURE debian/12 image size {} MiB", cached.size >> 20);
    assert_eq!(cached.key, debian12().cache_key(arch()));
    assert_eq!(cached.dir, common::cache_dir().join(&cached.key));
    assert!(cached.size > 50 << 20, "size {}", cached.size);

    // Cached now: no progress, found at once, listed.
    let again = Instant::now();
    let mut calls = 0;
    let second = berth_image::ensure_built(
        &common::cache_dir(),
        debian12(),
        arch(),
        &Mirrors::default(),
        |_| {
            calls += 1;
        },
    )
    .await
    .expect("cached");
    assert_eq!(calls, 0);
    assert_eq!(second, cached);
    assert!(again.elapsed() < Duration::from_secs(1));
    let listed = berth_image::list_cached(&common::cache_dir()).expect("list");
    assert!(listed.contains(&cached));

    let meta: serde_json::Value =
        serde_json::from_slice(&std::fs::read(cached.dir.join("image.json")).expect("image.json"))
            .expect("json");
    assert_eq!(meta["alias"], "debian/12");
    assert_eq!(meta["arch"], arch().as_str());
    assert_eq!(meta["format_version"], 1);

    check_container_fit(&cached.rootfs);
}

fn check_container_fit(rootfs: &Path) {
    let read = |p: &str| std::fs::read_to_string(rootfs.join(p)).unwrap_or_default();
    assert!(read("etc/os-release").contains("bookworm"));
    let keys: Vec<_> = std::fs::read_dir(rootfs.join("etc/ssh"))
        .expect("etc/ssh")
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with("ssh_host_"))
        .collect();
    assert!(
        keys.is_empty(),
        "host keys are per instance, not in the image"
    );
    assert_eq!(read("etc/machine-id"), "");
    assert!(read("etc/systemd/system/berth-ssh-keygen.service").contains("ssh-keygen -A"));
    let link = |p: &str| std::fs::read_link(rootfs.join(p)).ok();
    assert!(link("etc/systemd/system/multi-user.target.wants/berth-ssh-keygen.service").is_some());
    assert!(link("etc/systemd/system/multi-user.target.wants/systemd-networkd.service").is_some());
    assert!(link("etc/systemd/system/multi-user.target.wants/ssh.service").is_some());
    for masked in [
        "systemd-udevd.service",
        "sys-kernel-debug.mount",
        "getty@tty1.service",
        "systemd-remount-fs.service",
    ] {
        assert_eq!(
            link(&format!("etc/systemd/system/{masked}")).as_deref(),
            Some(Path::new("/dev/null")),
            "{masked} masked"
        );
    }
    assert!(
        !rootfs
            .join("etc/systemd/system/console-getty.service")
            .exists()
    );
    assert!(read("etc/hosts").starts_with("127.0.0.1\tlocalhost"));
    assert!(read("etc/apt/sources.list").contains("bookworm-security"));
    for binary in [
        "usr/sbin/sshd",
        "usr/bin/wg",
        "usr/sbin/ip",
        "usr/bin/sudo",
        "lib/systemd/systemd",
    ] {
        assert!(rootfs.join(binary).exists(), "{binary} installed");
    }
    assert!(
        std::fs::read_dir(rootfs.join("var/lib/apt/lists"))
            .expect("lists")
            .all(|e| {
                e.is_ok_and(|e| {
                    ["lock", "partial"].contains(&e.file_name().to_string_lossy().as_ref())
                })
            })
    );
}

/// Leftovers of builds in `cache`: `.build-*` directories.
fn leftovers(cache: &Path) -> Vec<String> {
    std::fs::read_dir(cache)
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with(".build-") || n.starts_with(".trash-"))
                .collect()
        })
        .unwrap_or_default()
}

async fn wait_clean(cache: &Path) {
    for _ in 0..80 {
        if leftovers(cache).is_empty() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    panic!("build leftovers remain: {:?}", leftovers(cache));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failed_build_leaves_nothing() {
    if !privileged() {
        return;
    }
    let scratch = Scratch::new("failed-build");
    let mirrors = Mirrors {
        debian: Some("http://127.0.0.1:9/debian".into()),
        ..Mirrors::default()
    };
    let err = berth_image::ensure_built(&scratch.path, debian12(), arch(), &mirrors, |_| {})
        .await
        .expect_err("no mirror on port 9");
    let text = berth_image::error_chain(&err);
    assert!(text.contains("bootstrapping debian/12 failed"), "{text}");
    eprintln!("failed build says: {text}");
    wait_clean(&scratch.path).await;
    assert!(berth_image::find_cached(&scratch.path, debian12(), arch()).is_none());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_cancelled_build_leaves_nothing() {
    if !privileged() {
        return;
    }
    let scratch = Scratch::new("cancelled-build");
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<BuildProgress>();
    let started = Instant::now();
    let mirrors = Mirrors::default();
    let build = berth_image::ensure_built(&scratch.path, debian12(), arch(), &mirrors, move |p| {
        let _ = tx.send(p);
    });
    // Cancel while dpkg runs in the chroot, with /dev and /proc mounted there.
    let cancelled = tokio::select! {
        result = build => panic!("the build finished before it was cancelled: {result:?}"),
        () = async {
            while let Some(p) = rx.recv().await {
                eprintln!("cancel test: {p}");
                if p.detail.as_deref().is_some_and(|d| d.contains("installing remaining")) {
                    return;
                }
            }
        } => true,
    };
    eprintln!("cancelled at {:.1}s", started.elapsed().as_secs_f64());
    assert!(cancelled);
    wait_clean(&scratch.path).await;
    assert!(
        common::mounts_below(&scratch.path).is_empty(),
        "no mounts left"
    );
    let stray = std::process::Command::new("pgrep")
        .args(["-f", &scratch.path.to_string_lossy()])
        .output()
        .expect("pgrep");
    assert!(
        stray.stdout.is_empty(),
        "bootstrap processes survived: {}",
        String::from_utf8_lossy(&stray.stdout)
    );
    assert!(berth_image::find_cached(&scratch.path, debian12(), arch()).is_none());
}
