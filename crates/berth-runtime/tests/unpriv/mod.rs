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
use berth_runtime::{ContainerSpec, ExecResult, ExecSpec, GuestSecurity, Runtime, RuntimeStatus};
use berth_types::{IdRange, Limits};

use crate::common;

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
        netns: None,
        security,
    }
}

pub async fn exec(
    rt: &impl Runtime,
    name: &berth_types::InstanceName,
    script: &str,
) -> (i32, String, String) {
    let spec = ExecSpec {
        argv: vec!["sh".into(), "-c".into(), script.into()],
        env: Default::default(),
        cwd: None,
        stdin: None,
        timeout: Duration::from_secs(120),
        output_cap: 1 << 20,
    };
    match rt.exec(name, &spec).await {
        Ok(ExecResult {
            exit_code,
            stdout,
            stderr,
            ..
        }) => (
            exit_code,
            String::from_utf8_lossy(&stdout).trim().to_owned(),
            String::from_utf8_lossy(&stderr).trim().to_owned(),
        ),
        Err(e) => (-1, String::new(), e.to_string()),
    }
}

/// `systemctl is-system-running --wait`, retried while systemd's bus is not up.
pub async fn wait_booted(rt: &impl Runtime, name: &berth_types::InstanceName) -> String {
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        let (_, state, err) = exec(rt, name, "systemctl is-system-running --wait").await;
        if !matches!(state.as_str(), "offline" | "" | "starting" | "initializing")
            || Instant::now() > deadline
        {
            return state;
        }
        eprintln!("{name}: not up yet ({state:?} {err:?})");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

pub async fn init_pid(rt: &impl Runtime, name: &berth_types::InstanceName) -> Option<i32> {
    match rt.status(name).await {
        Ok(RuntimeStatus::Running { pid }) => Some(pid),
        _ => None,
    }
}

/// The host uid of a host process.
pub fn host_uid(pid: i32) -> Option<u32> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// The checks every unprivileged guest passes, whatever its backend.
pub async fn check_unprivileged(rt: &impl Runtime, spec: &ContainerSpec, label: &str) {
    let name = &spec.name;
    let range = spec.security.idmap.expect("an unprivileged spec");
    let start = range.start();
    let state = wait_booted(rt, name).await;
    let (_, failed, _) = exec(rt, name, "systemctl --failed --no-legend --plain").await;
    eprintln!("{label}: systemd {state:?}, failed units: {failed:?}");
    assert!(
        state == "running" || state == "degraded",
        "{label}: systemd {state:?}"
    );
    let (_, map, _) = exec(rt, name, "cat /proc/self/uid_map").await;
    let map: Vec<&str> = map.split_whitespace().collect();
    assert_eq!(
        map,
        ["0", &start.to_string(), "65536"],
        "{label}: exec's uid_map"
    );
    let (_, seccomp, _) = exec(rt, name, "grep ^Seccomp: /proc/1/status /proc/self/status").await;
    assert_eq!(
        seccomp.matches("\t2").count(),
        2,
        "{label}: seccomp filters: {seccomp}"
    );
    let pid = init_pid(rt, name).await.expect("running");
    assert_eq!(host_uid(pid), Some(start), "{label}: init's host uid");

    let host_core = std::fs::read_to_string("/proc/sys/kernel/core_pattern").expect("host");
    let host_rl = std::fs::read_to_string("/proc/sys/kernel/printk_ratelimit").expect("host");
    let (code, _, err) = exec(rt, name, "echo '|/tmp/x' > /proc/sys/kernel/core_pattern").await;
    assert_ne!(code, 0, "{label}: wrote core_pattern through /proc ({err})");
    let (code, out, err) = exec(
        rt,
        name,
        "mkdir -p /tmp/p && mount -t proc proc /tmp/p && echo mounted; \
         echo '|/tmp/x' > /tmp/p/sys/kernel/core_pattern && echo core; \
         echo 1 > /tmp/p/sys/kernel/printk_ratelimit && echo ratelimit; umount /tmp/p; true",
    )
    .await;
    eprintln!("{label}: fresh procfs inside: {code} {out:?} {err:?}");
    assert!(
        !out.contains("core") && !out.contains("ratelimit"),
        "{label}: {out}"
    );
    assert_eq!(
        std::fs::read_to_string("/proc/sys/kernel/core_pattern").expect("host"),
        host_core
    );
    assert_eq!(
        std::fs::read_to_string("/proc/sys/kernel/printk_ratelimit").expect("host"),
        host_rl
    );
    let (code, out, err) = exec(rt, name, "dmesg | head -3").await;
    let (code2, _, _) = exec(rt, name, "dmesg >/dev/null").await;
    eprintln!("{label}: dmesg {code} {out:?} {err:?}");
    assert_ne!(code2, 0, "{label}: dmesg read the host's kernel log");

    let (code, _, err) = exec(
        rt,
        name,
        "touch /root/made-by-guest && chown 0:0 /root/made-by-guest",
    )
    .await;
    assert_eq!(code, 0, "{label}: {err}");
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(spec.rootfs.join("root/made-by-guest")).expect("made");
    assert_eq!(
        (meta.uid(), meta.gid()),
        (0, 0),
        "{label}: guest ids on disk"
    );
}

/// lxcfs' view: the memory limit in `free`, one CPU for a 1-CPU quota, the guest's uptime.
pub async fn check_lxcfs(rt: &impl Runtime, name: &berth_types::InstanceName, label: &str) {
    let (_, free, _) = exec(rt, name, "free -m | awk '/^Mem:/ {print $2}'").await;
    let (_, cpus, _) = exec(
        rt,
        name,
        "grep -c ^processor /proc/cpuinfo; cat /sys/devices/system/cpu/online",
    )
    .await;
    let (_, nproc, _) = exec(rt, name, "nproc").await;
    let (_, up, _) = exec(rt, name, "cut -d. -f1 /proc/uptime").await;
    eprintln!(
        "{label}: free -m total {free}, cpuinfo/online {cpus:?}, nproc {nproc}, uptime {up} s"
    );
    assert_eq!(free, "512", "{label}: free -m");
    assert_eq!(
        cpus.lines().collect::<Vec<_>>(),
        ["1", "0"],
        "{label}: CPUs"
    );
    let host_up: f64 = std::fs::read_to_string("/proc/uptime")
        .expect("uptime")
        .split_whitespace()
        .next()
        .and_then(|s| s.parse().ok())
        .expect("host uptime");
    let up: f64 = up.parse().expect("guest uptime");
    assert!(
        up < host_up - 1.0 && up < 900.0,
        "{label}: uptime {up} s (host {host_up})"
    );
}

/// Freezing stops the guest (status frozen) and thawing lets it run commands again.
pub async fn check_freeze(rt: &impl Runtime, name: &berth_types::InstanceName, label: &str) {
    rt.freeze(name).await.expect("freeze");
    assert!(
        matches!(rt.status(name).await, Ok(RuntimeStatus::Frozen { .. })),
        "{label}: not frozen"
    );
    rt.thaw(name).await.expect("thaw");
    let (code, _, _) = exec(rt, name, "true").await;
    assert_eq!(code, 0, "{label}: after thaw");
}

/// A live memory limit change shows in `free` at once (lxcfs reads the cgroup).
pub async fn check_live_limit(rt: &impl Runtime, name: &berth_types::InstanceName, label: &str) {
    let limits = Limits {
        cpu: Some(1.0),
        memory: Some(384 << 20),
        disk: None,
        processes: Some(2000),
    };
    rt.update_limits(name, &limits)
        .await
        .expect("update limits");
    let (_, free, _) = exec(rt, name, "free -m | awk '/^Mem:/ {print $2}'").await;
    assert_eq!(free, "384", "{label}: free -m after the limit changed");
}

/// `systemctl reboot` inside; returns once a new init runs and has booted.
pub async fn reboot(rt: &impl Runtime, name: &berth_types::InstanceName, label: &str) -> String {
    let before = init_pid(rt, name).await.expect("running");
    let _ = exec(rt, name, "systemctl reboot").await;
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        match init_pid(rt, name).await {
            Some(pid) if pid != before => break,
            _ if Instant::now() > deadline => panic!("{label}: no new init after reboot"),
            _ => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
    wait_booted(rt, name).await
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

/// A shell on a terminal (`berth exec -t`, `berth console --shell`) runs as the guest's root
/// in its user namespace, on a tty.
pub async fn check_terminal(
    rt: &impl Runtime,
    name: &berth_types::InstanceName,
    range: IdRange,
    label: &str,
) {
    use tokio::io::AsyncReadExt;
    let spec = berth_runtime::TerminalSpec {
        argv: [
            "sh",
            "-c",
            "echo uid=$(id -u); cat /proc/self/uid_map; tty; exit 3",
        ]
        .map(str::to_owned)
        .to_vec(),
        env: Vec::new(),
        cwd: None,
        rows: 24,
        cols: 80,
    };
    let mut session = rt.open_terminal(name, &spec).await.expect("terminal");
    let mut text = Vec::new();
    let read = async {
        let mut buf = [0u8; 4096];
        loop {
            match session.output.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => text.extend_from_slice(&buf[..n]),
            }
            if String::from_utf8_lossy(&text).contains("/dev/pts/") {
                break;
            }
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(60), read).await;
    let code = tokio::time::timeout(Duration::from_secs(60), session.exit).await;
    let text = String::from_utf8_lossy(&text).replace('\r', "");
    eprintln!("{label}: terminal said {text:?}, exit {code:?}");
    assert!(text.contains("uid=0"), "{label}: {text}");
    assert!(
        text.contains(&range.start().to_string()),
        "{label}: not in the guest's user namespace: {text}"
    );
    assert!(text.contains("/dev/pts/"), "{label}: no tty: {text}");
    assert!(matches!(code, Ok(Ok(3))), "{label}: exit {code:?}");
}
