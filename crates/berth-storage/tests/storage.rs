//! Storage drivers on a real host: a loop-backed btrfs pool (create, clone, destroy, remount,
//! disk limits) and the dir driver. Every pool lives in a scratch directory whose drop unmounts
//! it and detaches its loop device, also when a test fails.

use berth_testkit as common;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use berth_storage::StorageDriver;
use common::{Scratch, cached_debian12, loops_below, mounts_below, privileged};

const POOL: u64 = 8 << 30;

fn p50(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

#[tokio::test(flavor = "multi_thread")]
async fn btrfs_pool_clones_fast_and_cleans_up() {
    if !privileged() {
        return;
    }
    let (cached, _) = cached_debian12().await;
    let scratch = Scratch::new("btrfs");
    let storage_dir = scratch.path.join("storage");
    let driver = StorageDriver::open("auto", &storage_dir, POOL)
        .await
        .expect("auto storage");
    assert_eq!(driver.name(), "btrfs", "auto picks btrfs when it can");
    assert_eq!(driver.root(), storage_dir.join("btrfs"));
    assert!(storage_dir.join("btrfs.img").exists());
    assert_eq!(loops_below(&scratch.path).len(), 1, "one loop device");
    let sparse = std::fs::metadata(storage_dir.join("btrfs.img")).expect("pool file");
    assert_eq!(sparse.len(), POOL);

    // The first clone imports the image into the pool.
    let started = Instant::now();
    driver
        .clone_image(&cached.tree(), "first", None)
        .await
        .expect("first clone");
    eprintln!(
        "MEASURE btrfs import + first clone {:.0} ms",
        ms(started.elapsed())
    );

    let mut times = Vec::new();
    for i in 0..20 {
        let name = format!("clone-{i}");
        let started = Instant::now();
        let rootfs = driver
            .clone_image(&cached.tree(), &name, None)
            .await
            .expect("clone");
        times.push(started.elapsed());
        assert_eq!(rootfs, driver.instance_path(&name));
        assert!(rootfs.join("etc/os-release").exists());
    }
    let median = p50(times.clone());
    eprintln!(
        "MEASURE btrfs clone p50 {:.1} ms, max {:.1} ms over {} clones",
        ms(median),
        ms(times.iter().max().copied().unwrap_or_default()),
        times.len()
    );
    assert!(median < Duration::from_millis(500), "clone p50 {median:?}");

    // Clones are independent, writable, and customisable.
    let one = driver.instance_path("clone-1");
    berth_guestfs::customise::customise(&one, "clone-1").expect("customise");
    assert_eq!(
        std::fs::read_to_string(one.join("etc/hostname")).expect("hostname"),
        "clone-1\n"
    );
    assert_ne!(
        std::fs::read_to_string(driver.instance_path("clone-2").join("etc/hostname"))
            .expect("hostname"),
        "clone-1\n"
    );
    assert!(matches!(
        driver.clone_image(&cached.tree(), "clone-1", None).await,
        Err(berth_storage::StorageError::Btrfs(
            berth_storage::BtrfsError::Exists(_)
        ))
    ));
    assert!(
        driver
            .clone_image(&cached.tree(), "../escape", None)
            .await
            .is_err()
    );

    let usage = driver.usage("clone-1").await.expect("usage");
    assert!(
        usage.used > 50 << 20,
        "referenced bytes include the image: {usage:?}"
    );
    assert!(usage.exclusive.is_some_and(|e| e < 16 << 20), "{usage:?}");
    let (used, free) = driver.pool_usage().await.expect("pool usage");
    assert!(used > 0 && free > 0 && used + free <= POOL, "{used} {free}");

    for i in 0..20 {
        driver
            .destroy(&format!("clone-{i}"))
            .await
            .expect("destroy");
    }
    driver
        .destroy("clone-3")
        .await
        .expect("destroy is idempotent");
    assert!(!driver.instance_path("clone-3").exists());

    // Re-open while mounted (idempotent), then after an unmount as after a reboot. The kernel
    // cleans deleted subvolumes in the background; once it has (`subvolume sync`), the
    // re-open's sweep must leave (almost) no stale qgroups behind.
    Command::new("btrfs")
        .args(["subvolume", "sync"])
        .arg(driver.root())
        .status()
        .expect("subvolume sync");
    StorageDriver::open("btrfs", &storage_dir, POOL)
        .await
        .expect("re-open");
    let qgroups = Command::new("btrfs")
        .args(["qgroup", "show", "--raw"])
        .arg(driver.root())
        .output()
        .expect("qgroups");
    let stale = String::from_utf8_lossy(&qgroups.stdout)
        .matches("<stale>")
        .count();
    assert!(
        stale <= 2,
        "{stale} stale qgroups left behind by 20 destroys"
    );
    driver.teardown().await.expect("teardown");
    assert!(mounts_below(&scratch.path).is_empty());
    assert!(
        loops_below(&scratch.path).is_empty(),
        "loop device released with the unmount"
    );
    let again = StorageDriver::open("btrfs", &storage_dir, POOL)
        .await
        .expect("remount");
    assert!(
        again.instance_path("first").join("etc/os-release").exists(),
        "data survives"
    );
    let started = Instant::now();
    again
        .clone_image(&cached.tree(), "after-reboot", None)
        .await
        .expect("clone");
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "the image was not imported again"
    );
    again.teardown().await.expect("teardown");
    assert!(loops_below(&scratch.path).is_empty());
}

fn dd(target: &Path, mib: u32) -> std::process::Output {
    Command::new("dd")
        .args([
            "if=/dev/zero".to_owned(),
            format!("of={}", target.display()),
            "bs=1M".to_owned(),
            format!("count={mib}"),
            "conv=fsync".to_owned(),
        ])
        .output()
        .expect("dd")
}

#[tokio::test(flavor = "multi_thread")]
async fn btrfs_disk_limit_stops_writes() {
    if !privileged() {
        return;
    }
    let (cached, _) = cached_debian12().await;
    let scratch = Scratch::new("limit");
    let driver = StorageDriver::open("btrfs", &scratch.path.join("storage"), POOL)
        .await
        .expect("btrfs storage");
    driver.disk_limit_supported().expect("btrfs limits disks");
    let limit = 512u64 << 20;
    let rootfs = driver
        .clone_image(&cached.tree(), "small", Some(limit))
        .await
        .expect("clone");
    assert_eq!(
        driver.usage("small").await.expect("usage").limit,
        Some(limit)
    );

    let out = dd(&rootfs.join("big"), 600);
    let stderr = String::from_utf8_lossy(&out.stderr);
    eprintln!(
        "dd past the limit: {}",
        stderr.lines().next().unwrap_or_default()
    );
    assert!(
        !out.status.success(),
        "a 600 MiB write fits in a 512 MiB limit?"
    );
    assert!(
        stderr.contains("Disk quota exceeded") || stderr.contains("No space left"),
        "{stderr}"
    );
    let used = driver.usage("small").await.expect("usage").used;
    assert!(
        used <= limit + (64 << 20),
        "used {used} stays near the limit {limit}"
    );

    // Raising the limit lets writes through again.
    std::fs::remove_file(rootfs.join("big")).expect("rm big");
    driver
        .set_disk_limit("small", 2 << 30)
        .await
        .expect("raise");
    assert!(
        dd(&rootfs.join("big"), 600).status.success(),
        "fits under 2 GiB"
    );
    driver.clear_disk_limit("small").await.expect("clear");
    assert_eq!(driver.usage("small").await.expect("usage").limit, None);

    driver.destroy("small").await.expect("destroy");
    driver.teardown().await.expect("teardown");
}

#[tokio::test(flavor = "multi_thread")]
async fn dir_driver_copies_and_refuses_limits() {
    if !privileged() {
        return;
    }
    let (cached, _) = cached_debian12().await;
    let scratch = Scratch::new("dir");
    let driver = StorageDriver::open("dir", &scratch.path.join("storage"), POOL)
        .await
        .expect("dir");
    assert_eq!(driver.name(), "dir");
    let err = driver
        .disk_limit_supported()
        .expect_err("dir has no limits");
    assert!(err.contains("btrfs"), "{err}");
    let refused = driver
        .clone_image(&cached.tree(), "limited", Some(1 << 30))
        .await
        .expect_err("limit");
    assert!(berth_storage::error_chain(&refused).contains("use disk limits"));
    assert!(!driver.instance_path("limited").exists());

    let mut times = Vec::new();
    for i in 0..3 {
        let started = Instant::now();
        let rootfs = driver
            .clone_image(&cached.tree(), &format!("copy-{i}"), None)
            .await
            .expect("clone");
        times.push(started.elapsed());
        assert!(rootfs.join("usr/sbin/sshd").exists());
    }
    eprintln!(
        "MEASURE dir clone p50 {:.0} ms over {} clones",
        ms(p50(times.clone())),
        times.len()
    );
    let usage = driver.usage("copy-0").await.expect("usage");
    assert!(usage.used > 50 << 20 && usage.limit.is_none(), "{usage:?}");
    for i in 0..3 {
        driver.destroy(&format!("copy-{i}")).await.expect("destroy");
    }
    driver.destroy("copy-0").await.expect("idempotent");
    assert_eq!(
        std::fs::read_dir(driver.root().join("instances"))
            .expect("dir")
            .count(),
        0
    );

    // auto keeps dir while dir instances exist.
    driver
        .clone_image(&cached.tree(), "keeper", None)
        .await
        .expect("clone");
    let auto = StorageDriver::open("auto", &scratch.path.join("storage"), POOL)
        .await
        .expect("auto");
    assert_eq!(auto.name(), "dir");
    auto.destroy("keeper").await.expect("destroy");
    assert!(
        StorageDriver::open("zfs", &scratch.path, POOL)
            .await
            .is_err()
    );
}
