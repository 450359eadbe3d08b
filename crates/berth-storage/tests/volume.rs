//! The `volume` driver on a real host: each instance its own ext4 filesystem whose `statfs` is
//! the disk limit; writes past it fail with ENOSPC; resizing changes what `statfs` says; a disk
//! still mounted elsewhere (a running guest) is never resized under it; mounts and loop devices
//! survive a daemon restart and come back after a reboot; nothing stays mounted after a test.

use berth_testkit as common;

use std::path::Path;
use std::process::Command;

use berth_storage::{StorageDriver, StorageError, VolumeError, volume::ext4};
use common::{Scratch, cached_debian12, leaked_loops_below, loops_below, mounts_below, privileged};

const POOL: u64 = 8 << 30;
const GIB: u64 = 1 << 30;

/// `(size, used)` bytes as `df` sees them at `path`.
fn df(path: &Path) -> (u64, u64) {
    let st = rustix::fs::statvfs(path).expect("statvfs");
    let size = st.f_blocks * st.f_frsize;
    (size, size - st.f_bfree * st.f_frsize)
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
async fn statfs_is_the_disk_limit_and_writes_past_it_fail_with_enospc() {
    if !privileged() {
        return;
    }
    let (cached, _) = cached_debian12().await;
    let scratch = Scratch::new("volume-limit");
    let driver = StorageDriver::open("volume", &scratch.path.join("storage"), POOL)
        .await
        .expect("volume storage");
    driver.disk_limit_supported().expect("volume limits disks");
    let rootfs = driver
        .clone_image(&cached.tree(), "small", Some(GIB))
        .await
        .expect("clone");
    let (size, used) = df(&rootfs);
    assert_eq!(size, GIB, "df's size is the limit");
    assert!(
        (100 << 20..400 << 20).contains(&used),
        "used is the image's files: {used}"
    );
    let usage = driver.usage("small").await.expect("usage");
    assert_eq!(usage.limit, Some(GIB));
    assert!(usage.used.abs_diff(used) < 1 << 20, "{usage:?} vs {used}");
    let image = scratch.path.join("storage/volume/instances/small.ext4");
    // The kernel stores its own overhead at mount; written out with the superblock.
    rustix::fs::syncfs(std::fs::File::open(&rootfs).expect("open")).expect("syncfs");
    let sb = ext4::superblock(&image).expect("superblock");
    assert_eq!(
        sb.overhead, sb.stored_overhead,
        "the computed overhead is the kernel's"
    );

    let out = dd(&rootfs.join("big"), 1100);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "1100 MiB fit in a 1 GiB disk?");
    assert!(stderr.contains("No space left on device"), "{stderr}");
    // ext4 keeps up to 16 MiB back for its own metadata (`reserved_clusters`).
    let (_, full) = df(&rootfs);
    assert!(
        full > GIB - (24 << 20),
        "the disk filled up to its limit: {full}"
    );

    // Grown (while mounted; offline when the kernel refuses berthd an online resize).
    std::fs::remove_file(rootfs.join("big")).expect("rm big");
    driver.set_disk_limit("small", 2 * GIB).await.expect("grow");
    assert_eq!(df(&rootfs).0, 2 * GIB, "df follows the new limit");
    assert!(dd(&rootfs.join("big"), 1100).status.success(), "fits now");
    std::fs::remove_file(rootfs.join("big")).expect("rm big");
    // Shrunk while nothing else has it mounted.
    driver
        .set_disk_limit("small", 1536 << 20)
        .await
        .expect("shrink");
    assert_eq!(df(&rootfs).0, 1536 << 20);
    assert!(
        rootfs.join("etc/os-release").exists(),
        "files survive resizes"
    );
    let tiny = driver.set_disk_limit("small", 64 << 20).await;
    let err = tiny.expect_err("64 MiB cannot hold debian");
    assert!(
        err.refusal().is_some_and(|r| r.contains("too small")),
        "{err}"
    );
    assert_eq!(
        df(&rootfs).0,
        1536 << 20,
        "a refused resize changes nothing"
    );

    // A guest's mount namespace holding it (here: a second mount) makes shrinking wait.
    let held = scratch.path.join("held");
    std::fs::create_dir(&held).expect("mkdir");
    let bind = Command::new("mount")
        .arg("--bind")
        .arg(&rootfs)
        .arg(&held)
        .status()
        .expect("mount");
    assert!(bind.success());
    let busy = driver.set_disk_limit("small", GIB).await;
    assert!(
        matches!(busy, Err(StorageError::Volume(VolumeError::InUse(_)))),
        "{busy:?}"
    );
    assert!(busy.expect_err("busy").refusal().is_some());
    assert_eq!(df(&rootfs).0, 1536 << 20, "still mounted, unchanged");
    assert!(
        Command::new("umount")
            .arg(&held)
            .status()
            .expect("umount")
            .success()
    );

    driver.destroy("small").await.expect("destroy");
    assert!(!image.exists() && !rootfs.exists());
    driver.teardown().await.expect("teardown");
    assert!(mounts_below(&scratch.path).is_empty());
    assert!(leaked_loops_below(&scratch.path).is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn volumes_survive_a_daemon_restart_and_come_back_after_a_reboot() {
    if !privileged() {
        return;
    }
    let (cached, _) = cached_debian12().await;
    let scratch = Scratch::new("volume-restart");
    let storage_dir = scratch.path.join("storage");
    let driver = StorageDriver::open("volume", &storage_dir, POOL)
        .await
        .expect("volume storage");
    assert_eq!(driver.name(), "volume");
    assert_eq!(
        driver.default_disk(),
        Some(berth_storage::DEFAULT_VOLUME_SIZE)
    );
    for name in ["one", "two"] {
        let rootfs = driver
            .clone_image(&cached.tree(), name, None)
            .await
            .expect("clone");
        assert_eq!(df(&rootfs).0, berth_storage::DEFAULT_VOLUME_SIZE);
        std::fs::write(rootfs.join("root/marker"), name).expect("write");
    }
    let loops = loops_below(&scratch.path).len();
    assert_eq!(loops, 3, "the pool and one per volume");

    // A restart: everything is still mounted, nothing is attached twice.
    let again = StorageDriver::open("auto", &storage_dir, POOL)
        .await
        .expect("re-open");
    assert_eq!(again.name(), "volume");
    assert_eq!(loops_below(&scratch.path).len(), loops);
    // A guest still holds "one" after its host mount went: mounted again from the same device.
    let held = scratch.path.join("held");
    std::fs::create_dir(&held).expect("mkdir");
    let one = again.instance_path("one");
    assert!(
        Command::new("mount")
            .arg("--bind")
            .arg(&one)
            .arg(&held)
            .status()
            .expect("mount")
            .success()
    );
    assert!(
        Command::new("umount")
            .arg(&one)
            .status()
            .expect("umount")
            .success()
    );
    let root = again.activate("one").expect("activate");
    assert_eq!(
        std::fs::read_to_string(root.join("root/marker")).expect("marker"),
        "one"
    );
    assert_eq!(
        loops_below(&scratch.path).len(),
        loops,
        "the same loop device"
    );
    assert!(
        Command::new("umount")
            .arg(&held)
            .status()
            .expect("umount")
            .success()
    );

    // A reboot: all unmounted; opening the pool mounts every volume again.
    again.teardown().await.expect("teardown");
    assert!(mounts_below(&scratch.path).is_empty());
    assert!(leaked_loops_below(&scratch.path).is_empty());
    let rebooted = StorageDriver::open("auto", &storage_dir, POOL)
        .await
        .expect("after reboot");
    assert_eq!(
        rebooted.name(),
        "volume",
        "an existing pool stays what it is"
    );
    for name in ["one", "two"] {
        let marker = rebooted.instance_path(name).join("root/marker");
        assert_eq!(std::fs::read_to_string(marker).expect("marker"), name);
    }
    for name in ["one", "two"] {
        rebooted.destroy(name).await.expect("destroy");
    }
    rebooted.teardown().await.expect("teardown");
    assert!(leaked_loops_below(&scratch.path).is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn an_existing_btrfs_pool_stays_btrfs_under_auto() {
    if !privileged() {
        return;
    }
    let scratch = Scratch::new("volume-upgrade");
    let storage_dir = scratch.path.join("storage");
    let btrfs = StorageDriver::open("btrfs", &storage_dir, POOL)
        .await
        .expect("btrfs");
    btrfs.teardown().await.expect("teardown");
    let auto = StorageDriver::open("auto", &storage_dir, POOL)
        .await
        .expect("auto");
    assert_eq!(auto.name(), "btrfs");
    assert!(!storage_dir.join("volume.img").exists());
    auto.teardown().await.expect("teardown");
}
