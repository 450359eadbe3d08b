//! User namespaces and idmapped mounts for real (root): on loop-mounted btrfs, ext4 and xfs a
//! file owned by 0 on disk shows as the guest's range through the mount, a guest-range process
//! writes guest ids to disk, the maps are written with `/proc` read-only, and a filesystem
//! that cannot be idmapped is named in the refusal. Every mount and loop device is removed,
//! even when a test fails.

use std::os::fd::AsFd;
use std::os::unix::fs::MetadataExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use berth_isolation::{PrivateProc, UserNamespace, idmount, nsfile};
use berth_types::IdRange;

type Error = Box<dyn std::error::Error>;

fn skip() -> bool {
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    if !root {
        eprintln!("skipped: needs root");
    }
    !root
}

/// A unique range per test so parallel tests never share one.
fn range(n: u32) -> IdRange {
    IdRange::new(0x7f00_0000 + n * 65_536).expect("aligned")
}

/// A loop-mounted filesystem image, unmounted (and its loop device freed) on drop.
struct LoopFs {
    dir: tempfile::TempDir,
}

impl LoopFs {
    fn new(mkfs: &str) -> Result<Option<Self>, Error> {
        let tool = format!("mkfs.{mkfs}");
        if Command::new("sh")
            .args(["-c", &format!("command -v {tool}")])
            .output()?
            .stdout
            .is_empty()
        {
            eprintln!("skipped {mkfs}: {tool} is not installed");
            return Ok(None);
        }
        let dir = tempfile::tempdir()?;
        let image = dir.path().join("fs.img");
        let mnt = dir.path().join("mnt");
        std::fs::create_dir(&mnt)?;
        std::fs::File::create(&image)?.set_len(320 << 20)?;
        let quiet = if mkfs == "ext4" { "-qF" } else { "-q" };
        run(Command::new(&tool).arg(quiet).arg(&image))?;
        run(Command::new("mount")
            .args(["-o", "loop"])
            .arg(&image)
            .arg(&mnt))?;
        Ok(Some(Self { dir }))
    }

    fn root(&self) -> PathBuf {
        self.dir.path().join("mnt")
    }
}

impl Drop for LoopFs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.root()).status();
    }
}

/// An attached mount, detached on drop.
struct Mounted(PathBuf);

impl Drop for Mounted {
    fn drop(&mut self) {
        let _ = idmount::unmount(&self.0);
    }
}

fn run(cmd: &mut Command) -> Result<(), Error> {
    let out = cmd.output()?;
    if !out.status.success() {
        return Err(format!("{cmd:?}: {}", String::from_utf8_lossy(&out.stderr)).into());
    }
    Ok(())
}

/// Runs `sh -c script` as host uid/gid `id`.
fn run_as(id: u32, script: &str) -> Result<(), Error> {
    run(Command::new("sh").args(["-c", script]).uid(id).gid(id))
}

fn idmapped_roundtrip(fs: &str, n: u32) -> Result<(), Error> {
    let Some(lfs) = LoopFs::new(fs)? else {
        return Ok(());
    };
    let source = lfs.root().join("rootfs");
    std::fs::create_dir(&source)?;
    std::fs::write(source.join("root-owned"), b"x")?;
    std::fs::create_dir(source.join("user-owned"))?;
    std::os::unix::fs::chown(source.join("user-owned"), Some(1000), Some(1000))?;
    std::fs::create_dir(source.join("tmp"))?;
    std::os::unix::fs::chown(source.join("tmp"), Some(0), Some(0))?;
    let target = tempfile::tempdir()?;
    let range = range(n);
    let proc = PrivateProc::new()?;
    let userns = UserNamespace::new(range, &proc)?;
    idmount::mount(&source, target.path(), &userns)?;
    let _mounted = Mounted(target.path().to_owned());
    drop(userns);

    let meta = std::fs::metadata(target.path().join("root-owned"))?;
    assert_eq!(
        (meta.uid(), meta.gid()),
        (range.start(), range.start()),
        "{fs}"
    );
    let meta = std::fs::metadata(target.path().join("user-owned"))?;
    assert_eq!(meta.uid(), range.start() + 1000, "{fs}");
    // The guest's root writes through the mount; the disk keeps guest ids.
    let made = target.path().join("tmp/made-by-guest-root");
    run_as(range.start(), &format!("echo hi > {}", made.display()))?;
    let on_disk = std::fs::metadata(source.join("tmp/made-by-guest-root"))?;
    assert_eq!(
        (on_disk.uid(), on_disk.gid()),
        (0, 0),
        "{fs}: guest root is 0 on disk"
    );
    // Another guest's ids own nothing here.
    let other = range.start() + 65_536;
    let denied = run_as(
        other,
        &format!("echo no > {}", target.path().join("tmp/x").display()),
    );
    assert!(
        denied.is_err(),
        "{fs}: another range wrote into this guest's root"
    );
    Ok(())
}

#[test]
fn idmapped_mount_on_btrfs() -> Result<(), Error> {
    if skip() {
        return Ok(());
    }
    idmapped_roundtrip("btrfs", 1)
}

#[test]
fn idmapped_mount_on_ext4() -> Result<(), Error> {
    if skip() {
        return Ok(());
    }
    idmapped_roundtrip("ext4", 2)
}

#[test]
fn idmapped_mount_on_xfs() -> Result<(), Error> {
    if skip() {
        return Ok(());
    }
    idmapped_roundtrip("xfs", 3)
}

#[test]
fn a_filesystem_without_idmap_support_is_named() -> Result<(), Error> {
    if skip() {
        return Ok(());
    }
    let proc = PrivateProc::new()?;
    let userns = UserNamespace::new(range(4), &proc)?;
    let err = idmount::probe(Path::new("/proc"), &userns).expect_err("procfs has no idmap");
    let text = err.to_string();
    assert!(text.contains("/proc (proc)"), "{text}");
    assert!(text.contains("does not support idmapped mounts"), "{text}");
    Ok(())
}

#[test]
fn maps_are_written_while_proc_is_read_only() -> Result<(), Error> {
    if skip() {
        return Ok(());
    }
    // This thread alone gets a mount namespace with /proc read-only, as on the CI machines.
    let range = range(5);
    let outcome = std::thread::spawn(move || -> Result<String, String> {
        // SAFETY: unshare/mount on this thread only; it exits when the closure returns.
        unsafe {
            if libc::unshare(libc::CLONE_NEWNS) != 0 {
                return Err(format!("unshare: {}", std::io::Error::last_os_error()));
            }
            let flags = libc::MS_REC | libc::MS_PRIVATE;
            if libc::mount(
                c"none".as_ptr(),
                c"/".as_ptr(),
                std::ptr::null(),
                flags,
                std::ptr::null(),
            ) != 0
            {
                return Err(format!("private: {}", std::io::Error::last_os_error()));
            }
            let flags = libc::MS_REMOUNT | libc::MS_BIND | libc::MS_RDONLY;
            if libc::mount(
                c"none".as_ptr(),
                c"/proc".as_ptr(),
                std::ptr::null(),
                flags,
                std::ptr::null(),
            ) != 0
            {
                return Err(format!("remount: {}", std::io::Error::last_os_error()));
            }
        }
        let ro = std::fs::write("/proc/sys/kernel/printk_ratelimit", "5");
        assert!(ro.is_err(), "/proc is still writable in this thread");
        let proc = PrivateProc::new().map_err(|e| e.to_string())?;
        let userns = UserNamespace::new(range, &proc).map_err(|e| e.to_string())?;
        Ok(format!("{:?}", userns.range()))
    })
    .join()
    .map_err(|_| "thread panicked")??;
    assert_eq!(outcome, format!("{range:?}"));
    Ok(())
}

#[test]
fn a_network_namespace_owned_by_the_guest_is_bound_and_released() -> Result<(), Error> {
    if skip() {
        return Ok(());
    }
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("netns");
    let proc = PrivateProc::new()?;
    let (userns, netns) = UserNamespace::with_network(range(6), &proc)?;
    nsfile::bind(netns.as_fd(), &path)?;
    drop(netns);
    // The bound netns is owned by the guest's user namespace: NS_GET_USERNS on it gives a
    // namespace with the same inode as ours.
    let bound = std::fs::File::open(&path)?;
    // SAFETY: NS_GET_USERNS takes no argument and returns a new descriptor or -1.
    let owner = unsafe { libc::ioctl(std::os::fd::AsRawFd::as_raw_fd(&bound), 0xb701) };
    assert!(
        owner >= 0,
        "NS_GET_USERNS: {}",
        std::io::Error::last_os_error()
    );
    // SAFETY: `owner` is a descriptor we own from here on.
    let owner = unsafe { <std::os::fd::OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(owner) };
    let ino = |fd: std::os::fd::BorrowedFd<'_>| rustix::fs::fstat(fd).map(|s| s.st_ino);
    assert_eq!(ino(owner.as_fd())?, ino(userns.fd())?);
    drop(bound);
    nsfile::release(&path)?;
    assert!(!path.exists());
    nsfile::release(&path)?;
    Ok(())
}

/// Two launches at once each make a user namespace: the child that holds one open must not
/// inherit the other's descriptors (it did, and both waited for each other for ever).
#[test]
fn user_namespaces_made_at_once_on_many_threads_all_finish() -> Result<(), Error> {
    if skip() {
        return Ok(());
    }
    let (done, finished) = std::sync::mpsc::channel();
    for thread in 0..8u32 {
        let done = done.clone();
        std::thread::spawn(move || {
            let made = (|| -> Result<(), String> {
                let proc = PrivateProc::new().map_err(|e| e.to_string())?;
                for round in 0..25u32 {
                    let network = round % 2 == 0;
                    let range = range(100 + thread * 25 + round);
                    let userns = if network {
                        UserNamespace::with_network(range, &proc).map(|(u, _)| u)
                    } else {
                        UserNamespace::new(range, &proc)
                    };
                    userns.map_err(|e| e.to_string())?;
                }
                Ok(())
            })();
            let _ = done.send(made);
        });
    }
    drop(done);
    for _ in 0..8 {
        let made = finished
            .recv_timeout(std::time::Duration::from_secs(60))
            .map_err(|_| "user namespaces made on 8 threads at once did not finish in 60 s")?;
        made?;
    }
    Ok(())
}
