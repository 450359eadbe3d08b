//! The cache layout without building: finding, listing, deleting, sweeping interrupted builds,
//! and builds that cannot start (missing keyring) leaving nothing.

use berth_testkit as common;

use std::path::Path;
use std::time::Duration;

use berth_image::{ImageMeta, Mirrors, cache::FORMAT_VERSION};
use berth_types::{Arch, ImageRef};

fn fake_image(cache: &Path, raw: &str, arch: Arch, format_version: u32) -> ImageRef {
    let image = ImageRef::parse(raw).expect("known");
    let dir = cache.join(image.cache_key(arch));
    std::fs::create_dir_all(dir.join("rootfs/etc")).expect("rootfs");
    let meta = ImageMeta {
        format_version,
        alias: image,
        arch,
        built_at: chrono::Utc::now(),
        size: 1234,
        sources: vec![],
    };
    std::fs::write(
        dir.join("image.json"),
        serde_json::to_vec(&meta).expect("json"),
    )
    .expect("meta");
    image
}

#[test]
fn finds_lists_and_deletes() {
    let cache = tempfile::tempdir().expect("cache");
    let debian = fake_image(cache.path(), "debian/12", Arch::Amd64, FORMAT_VERSION);
    let ubuntu = fake_image(cache.path(), "ubuntu:noble", Arch::Arm64, FORMAT_VERSION);
    let old = fake_image(cache.path(), "debian/11", Arch::Amd64, FORMAT_VERSION + 1);
    std::fs::create_dir_all(cache.path().join("debian-13-amd64")).expect("incomplete entry");

    let found = berth_image::find_cached(cache.path(), debian, Arch::Amd64).expect("found");
    assert_eq!(found.rootfs, cache.path().join("debian-12-amd64/rootfs"));
    assert_eq!(found.size, 1234);
    assert!(berth_image::find_cached(cache.path(), debian, Arch::Arm64).is_none());
    assert!(
        berth_image::find_cached(cache.path(), old, Arch::Amd64).is_none(),
        "other format"
    );

    let keys: Vec<String> = berth_image::list_cached(cache.path())
        .expect("list")
        .into_iter()
        .map(|c| c.key)
        .collect();
    assert_eq!(keys, ["debian-12-amd64", "ubuntu-24.04-arm64"]);

    berth_image::delete_cached(cache.path(), debian, Arch::Amd64).expect("delete");
    berth_image::delete_cached(cache.path(), debian, Arch::Amd64).expect("again");
    assert!(berth_image::find_cached(cache.path(), debian, Arch::Amd64).is_none());
    assert!(berth_image::find_cached(cache.path(), ubuntu, Arch::Arm64).is_some());
    assert!(
        berth_image::list_cached(&cache.path().join("missing"))
            .expect("empty")
            .is_empty()
    );
}

#[test]
fn sweeps_interrupted_builds_but_not_running_ones() {
    let cache = tempfile::tempdir().expect("cache");
    let stale = cache
        .path()
        .join(".build-debian-12-amd64-0123456789abcdef0123456789abcdef");
    let trash = cache
        .path()
        .join(".trash-debian-11-amd64-0123456789abcdef0123456789abcdef");
    let running = cache
        .path()
        .join(".build-debian-13-amd64-fedcba9876543210fedcba9876543210");
    for dir in [&stale, &trash, &running] {
        std::fs::create_dir_all(dir.join("rootfs/etc")).expect("mkdir");
    }
    // A builder of debian-13 holds its key's lock.
    let lock =
        std::fs::File::create(cache.path().join(".debian-13-amd64.lock")).expect("lock file");
    rustix::fs::flock(&lock, rustix::fs::FlockOperation::LockExclusive).expect("flock");

    berth_image::remove_partial_builds(cache.path()).expect("sweep");
    assert!(!stale.exists());
    assert!(!trash.exists());
    assert!(running.exists(), "a running build is left alone");
    drop(lock);
    berth_image::remove_partial_builds(cache.path()).expect("sweep");
    assert!(!running.exists());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_build_without_its_keyring_says_which_package() {
    if !common::privileged() || Path::new(berth_image::catalog::UBUNTU_KEYRING).exists() {
        return;
    }
    let scratch = common::Scratch::new("keyring");
    let image = ImageRef::parse("ubuntu/24.04").expect("known");
    let err = berth_image::ensure_built(
        &scratch.path,
        image,
        common::arch(),
        &Mirrors::default(),
        |_| {},
    )
    .await
    .expect_err("no ubuntu keyring on this host");
    let text = berth_image::error_chain(&err);
    assert!(text.contains("apt install ubuntu-keyring"), "{text}");
    for _ in 0..40 {
        let left = std::fs::read_dir(&scratch.path)
            .expect("dir")
            .filter_map(|e| e.ok())
            .any(|e| e.file_name().to_string_lossy().starts_with(".build-"));
        if !left {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the failed build left its directory");
}
