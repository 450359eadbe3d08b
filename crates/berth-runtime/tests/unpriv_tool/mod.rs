//! Harness for unprivileged guests on the host-tool backends: a rootfs copy of the cached
//! debian/12 image in a directory the guest's ids can traverse, an id range of the test's own,
//! a private lxcfs, and berthd's part (the guest's user namespace and a network namespace it
//! owns, bound on files). Everything is removed on drop, even when a test fails.

#![allow(dead_code, reason = "each test binary uses part of the harness")]

use std::os::fd::AsFd;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use berth_isolation::{PrivateProc, UserNamespace, nsfile};
use berth_runtime::{ContainerSpec, GuestSecurity};
use berth_types::{IdRange, Limits};

use crate::common;

mod checks;
pub use checks::*;

/// A range of this test process's own (ranges of concurrent test runs differ by pid).
pub fn test_range(n: u32) -> IdRange {
    let slot = (std::process::id() % 1000) * 4 + n;
    IdRange::new(0x4000_0000 + slot * 65_536).expect("aligned range")
}

/// A directory with the guest's rootfs copy (`rootfs`), 0711 so the guest's ids reach it.
pub struct Workdir {
    pub dir: tempfile::TempDir,
    pub rootfs: PathBuf,
}

impl Workdir {
    pub async fn new(name: &str) -> Workdir {
        let image = common::image_rootfs().await;
        let dir = tempfile::Builder::new()
            .prefix(&format!("berth-{name}-"))
            .tempdir_in("/var/tmp")
            .expect("temp dir");
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o711))
            .expect("chmod");
        let rootfs = dir.path().join("rootfs");
        let copy = Command::new("cp")
            .args(["-a", "--reflink=auto"])
            .arg(&image)
            .arg(&rootfs)
            .status()
            .expect("run cp");
        assert!(copy.success(), "copying the rootfs failed");
        std::fs::write(rootfs.join("etc/hostname"), format!("{name}\n")).expect("hostname");
        Workdir { dir, rootfs }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

/// A private lxcfs mounted under `dir/mnt`; stopped and unmounted on drop.
pub struct TestLxcfs {
    pub mount: PathBuf,
    child: Child,
}

impl TestLxcfs {
    pub fn start(dir: &Path) -> Option<TestLxcfs> {
        let mount = dir.join("lxcfs-mnt");
        std::fs::create_dir_all(&mount).ok()?;
        let mut child = Command::new("lxcfs")
            .args(["-f", "--enable-cfs", "--enable-loadavg", "-p"])
            .arg(dir.join("lxcfs.pid"))
            .arg(&mount)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .ok()?;
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::fs::read_to_string(mount.join("proc/meminfo")).is_err() {
            if Instant::now() > deadline || child.try_wait().ok().flatten().is_some() {
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        // The guests' ids must reach the files.
        let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o711));
        Some(TestLxcfs { mount, child })
    }
}

impl Drop for TestLxcfs {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = Command::new("umount").arg("-l").arg(&self.mount).status();
    }
}

/// berthd's part: the guest's user namespace and a network namespace it owns, on files.
pub struct Namespaces {
    pub userns: PathBuf,
    pub netns: PathBuf,
}

impl Namespaces {
    pub fn make(range: IdRange, dir: &Path) -> Namespaces {
        let proc = PrivateProc::new().expect("private procfs");
        let (userns, netns) = UserNamespace::with_network(range, &proc).expect("namespaces");
        let this = Namespaces {
            userns: dir.join("userns"),
            netns: dir.join("netns"),
        };
        nsfile::bind(userns.fd(), &this.userns).expect("bind userns");
        nsfile::bind(netns.as_fd(), &this.netns).expect("bind netns");
        this
    }
}

impl Drop for Namespaces {
    fn drop(&mut self) {
        for f in [&self.netns, &self.userns] {
            if let Err(e) = nsfile::release(f) {
                eprintln!("release {}: {e}", f.display());
            }
        }
    }
}

pub fn spec(
    work: &Workdir,
    name: &berth_types::InstanceName,
    security: GuestSecurity,
) -> ContainerSpec {
    ContainerSpec {
        name: name.clone(),
        rootfs: work.rootfs.clone(),
        hostname: name.to_string(),
        limits: Limits {
            cpu: Some(1.0),
            memory: Some(512 << 20),
            disk: None,
            processes: Some(2000),
        },
        state_dir: work.path().join("state"),
        runtime: None,
        netns: None,
        security,
    }
}

/// A bridge of the test's own with berthd's kind of veth on it (the host end named as berthd
/// names the guest's, the other end left on the host): what the network layer would have
/// made before start. Both go on drop.
pub struct TestBridge {
    pub name: String,
    pub subnet: String,
    veth: String,
}

fn ip(args: &[&str]) -> Result<(), String> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(format!(
            "ip {args:?}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(())
}

impl TestBridge {
    pub fn make(guest: &str) -> TestBridge {
        let n = std::process::id() % 250;
        let this = TestBridge {
            name: format!("bu{}", std::process::id()),
            subnet: format!("10.251.{n}"),
            veth: berth_net::host_veth_name(guest),
        };
        let peer = format!("pu{}", std::process::id());
        for args in [
            vec!["link", "add", &this.name, "type", "bridge"],
            vec![
                "addr",
                "add",
                &format!("{}.1/24", this.subnet),
                "dev",
                &this.name,
            ],
            vec!["link", "set", &this.name, "up"],
            vec![
                "link", "add", &this.veth, "type", "veth", "peer", "name", &peer,
            ],
            vec!["link", "set", &this.veth, "master", &this.name, "up"],
        ] {
            ip(&args).expect("test bridge");
        }
        this
    }

    /// The guest's networkd file for eth0 (what berth-guestfs writes).
    pub fn configure_guest(&self, rootfs: &Path) {
        let dir = rootfs.join("etc/systemd/network");
        std::fs::create_dir_all(&dir).expect("network dir");
        let text = format!(
            "[Match]\nName=eth0\n\n[Network]\nAddress={}.2/24\nGateway={}.1\n",
            self.subnet, self.subnet
        );
        std::fs::write(dir.join("10-berth-eth0.network"), text).expect("network file");
    }
}

impl Drop for TestBridge {
    fn drop(&mut self) {
        let _ = ip(&["link", "del", &self.veth]);
        if let Err(e) = ip(&["link", "del", &self.name]) {
            eprintln!("{e}");
        }
    }
}

/// Set in a re-run of a test under a read-only `/proc`.
const RO_PROC: &str = "BERTH_TEST_READ_ONLY_PROC";

/// Runs `test` of this test binary again in a mount namespace of its own whose `/proc` is
/// read-only, as on the CI machines (where berthd never has a writable `/proc`).
pub fn rerun_with_read_only_proc(test: &str) {
    let exe = std::env::current_exe().expect("the test binary");
    let status = Command::new("unshare")
        .args(["-m", "--propagation", "slave", "sh", "-c"])
        .arg("mount -o remount,bind,ro /proc && exec \"$0\" \"$@\"")
        .arg(&exe)
        .args(["--exact", test, "--test-threads=1", "--nocapture"])
        .env(RO_PROC, "1")
        .status()
        .expect("run unshare");
    assert!(status.success(), "{test} with a read-only /proc: {status}");
}

/// In a re-run: `/proc` really is read-only here.
pub fn check_read_only_proc() {
    if std::env::var_os(RO_PROC).is_none() {
        return;
    }
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").expect("mountinfo");
    let proc = mounts
        .lines()
        .find(|l| l.split_whitespace().nth(4) == Some("/proc"))
        .expect("a /proc mount");
    assert!(
        proc.split_whitespace()
            .nth(5)
            .is_some_and(|o| o.split(',').any(|f| f == "ro")),
        "/proc is not read-only: {proc}"
    );
    eprintln!("running with a read-only /proc");
}
