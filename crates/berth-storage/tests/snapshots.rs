//! Snapshots on both storage drivers with a real image: take, change the rootfs, restore (the
//! change is gone, the disk limit is back), delete, and nothing left after destroy.

use berth_testkit as common;

use std::time::Instant;

use berth_storage::{StorageDriver, StorageError};
use common::{Scratch, cached_debian12, privileged};

const POOL: u64 = 8 << 30;

async fn exercise(driver: &StorageDriver, limit: Option<u64>) {
    let (cached, _) = cached_debian12().await;
    let rootfs = driver
        .clone_image(&cached.tree(), "snappy", limit)
        .await
        .expect("clone");
    let marker = rootfs.join("root/marker");
    std::fs::write(&marker, "before").expect("write marker");

    let started = Instant::now();
    driver
        .create_snapshot("snappy", "snap0")
        .await
        .expect("snapshot");
    eprintln!(
        "MEASURE {} snapshot {:.0} ms",
        driver.name(),
        started.elapsed().as_secs_f64() * 1000.0
    );
    let size = driver.snapshot_size("snappy", "snap0").await.expect("size");
    assert!(
        size > 50 << 20,
        "a snapshot refers to the whole rootfs: {size}"
    );
    let again = driver.create_snapshot("snappy", "snap0").await;
    assert!(
        matches!(again, Err(StorageError::SnapshotExists(_))),
        "{again:?}"
    );
    assert!(matches!(
        driver.create_snapshot("snappy", "../evil").await,
        Err(StorageError::BadName(_))
    ));

    std::fs::write(&marker, "after").expect("change marker");
    std::fs::write(rootfs.join("root/new-file"), "x").expect("new file");
    driver
        .restore_snapshot("snappy", "snap0", limit)
        .await
        .expect("restore");
    let rootfs = driver.instance_path("snappy");
    assert_eq!(
        std::fs::read_to_string(rootfs.join("root/marker")).expect("marker"),
        "before"
    );
    assert!(!rootfs.join("root/new-file").exists());
    if limit.is_some() {
        let usage = driver.usage("snappy").await.expect("usage");
        assert_eq!(usage.limit, limit, "the disk limit follows the restore");
    }
    // The restored rootfs is writable, the snapshot still read as it was.
    std::fs::write(rootfs.join("root/marker"), "later").expect("write after restore");
    assert_eq!(
        std::fs::read_to_string(driver.snapshot_path("snappy", "snap0").join("root/marker"))
            .expect("snapshot marker"),
        "before"
    );
    let missing = driver.restore_snapshot("snappy", "nope", None).await;
    assert!(
        matches!(missing, Err(StorageError::NoSnapshot(_))),
        "{missing:?}"
    );

    driver
        .create_snapshot("snappy", "snap1")
        .await
        .expect("second snapshot");
    driver
        .delete_snapshot("snappy", "snap1")
        .await
        .expect("delete");
    assert!(!driver.snapshot_path("snappy", "snap1").exists());
    driver
        .delete_snapshot("snappy", "snap1")
        .await
        .expect("idempotent");

    driver.destroy("snappy").await.expect("destroy");
    assert!(
        !driver.snapshot_path("snappy", "snap0").exists(),
        "snapshots go with the instance"
    );
    let leftovers: Vec<_> = std::fs::read_dir(driver.root().join("instances"))
        .expect("instances")
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn btrfs_snapshots_take_restore_and_delete() {
    if !privileged() {
        return;
    }
    let scratch = Scratch::new("snap-btrfs");
    let driver = StorageDriver::open("btrfs", &scratch.path.join("storage"), POOL)
        .await
        .expect("btrfs");
    exercise(&driver, Some(2 << 30)).await;
    driver.teardown().await.expect("teardown");
}

#[tokio::test(flavor = "multi_thread")]
async fn dir_snapshots_take_restore_and_delete() {
    if !privileged() {
        return;
    }
    let scratch = Scratch::new("snap-dir");
    let driver = StorageDriver::open("dir", &scratch.path.join("storage"), POOL)
        .await
        .expect("dir");
    exercise(&driver, None).await;
}
