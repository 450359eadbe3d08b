//! Unprivileged guests on the builtin (libcontainer) and oci (crun) backends, for real (root,
//! cgroups, the cached debian/12 image; skipped with a note otherwise): the guest runs in its
//! own user namespace on its own id range, through an idmapped root, with the unprivileged
//! deny list, and lxcfs' view of its limits. Each test boots one guest, checks from inside
//! (through exec, which joins the guest's user namespace) what a tenant's root can and cannot
//! do, reboots it from inside and checks again, and compares the host's values before and after.

mod common;
mod unpriv;

use std::os::unix::fs::MetadataExt;
use std::time::{Duration, Instant};

use berth_runtime::builtin::BuiltinRuntime;
use berth_runtime::local::Launcher;
use berth_runtime::oci::{OciRuntime, OciTool};
use berth_runtime::{Runtime, RuntimeStatus, TerminalSpec};
use berth_types::Limits;
use common::bounded;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use unpriv::Unpriv;

const MIB: u64 = 1 << 20;

fn limits() -> Limits {
    Limits {
        cpu: Some(0.5),
        memory: Some(512 * MIB),
        disk: None,
        processes: Some(500),
    }
}

/// The host's kernel settings a guest must not change.
const HOST_SYSCTLS: &[&str] = &[
    "/proc/sys/kernel/core_pattern",
    "/proc/sys/kernel/printk_ratelimit",
    "/proc/sys/kernel/hostname",
];

fn host_sysctls() -> Vec<String> {
    HOST_SYSCTLS
        .iter()
        .map(|p| std::fs::read_to_string(p).unwrap_or_default())
        .collect()
}

/// The host uid init runs as (the first `Uid:` field of its status).
fn host_uid(pid: i32) -> Option<u32> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("Uid:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn squash(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

async fn booted<L: Launcher>(g: &Unpriv<L>) {
    let state = g.wait_booted(Duration::from_secs(150)).await;
    let (_, failed, _) = g.run("systemctl --failed --no-legend --plain").await;
    eprintln!("{}: {state}; failed units: {failed:?}", g.spec.name);
    assert!(matches!(state.as_str(), "running" | "degraded"), "{state}");
    assert!(failed.is_empty(), "failed units: {failed}");
}

/// What a tenant's root can and cannot do, checked from inside.
async fn contained<L: Launcher>(g: &Unpriv<L>, init: i32) {
    let start = g.range.start();
    assert_eq!(
        host_uid(init),
        Some(start),
        "init's host uid is the range's start"
    );
    let (_, map) = g
        .sh("cat /proc/self/uid_map; cat /proc/1/gid_map; id -u")
        .await;
    assert_eq!(
        squash(&map),
        format!("0 {start} 65536 0 {start} 65536 0"),
        "exec runs as the guest's root in its user namespace"
    );
    let before = host_sysctls();
    let (code, out) = g
        .sh("echo '|/tmp/pwn %p' > /proc/sys/kernel/core_pattern")
        .await;
    assert_ne!(code, 0, "core_pattern written: {out}");
    // A fresh procfs mounts in the guest's own pid namespace, but the kernel's sysctls stay
    // the host root's.
    for (file, value) in [
        ("kernel/core_pattern", "|/tmp/pwn %p"),
        ("kernel/printk_ratelimit", "1"),
        ("kernel/hostname", "pwned"),
    ] {
        let (code, out) = g
            .sh(&format!(
                "mkdir -p /tmp/p && (mountpoint -q /tmp/p || mount -t proc proc /tmp/p) \
                 && echo '{value}' > /tmp/p/sys/{file}"
            ))
            .await;
        assert_ne!(code, 0, "{file} written through a fresh procfs: {out}");
    }
    // The read-only /proc/sys and /sys are the guest's own mounts (it may remount them);
    // the kernel's files behind them stay the host root's.
    let thp = "/sys/kernel/mm/transparent_hugepage/enabled";
    let thp_now = std::fs::read_to_string(thp).unwrap_or_default();
    let current = thp_now
        .split(['[', ']'])
        .nth(1)
        .unwrap_or("madvise")
        .to_owned();
    let escapes = [
        "mount -o remount,rw /proc/sys; echo '|/tmp/pwn' > /proc/sys/kernel/core_pattern"
            .to_owned(),
        // The current value: harmless even if it were written.
        format!("mount -o remount,rw /sys; echo {current} > {thp}"),
        "mknod /tmp/sda b 8 0".to_owned(),
        "mknod /tmp/mem c 1 1 && head -c1 /tmp/mem".to_owned(),
        "mkdir -p /tmp/cg && (mountpoint -q /tmp/cg || mount -t cgroup -o memory cgroup /tmp/cg) \
         && echo /tmp/pwn > /tmp/cg/release_agent"
            .to_owned(),
    ];
    for escape in &escapes {
        let (code, out) = g.sh(escape).await;
        eprintln!("{}: refused: {escape}: {out}", g.spec.name);
        assert_ne!(code, 0, "{escape}: {out}");
    }
    assert_eq!(std::fs::read_to_string(thp).unwrap_or_default(), thp_now);
    assert_eq!(host_sysctls(), before, "the host's sysctls changed");
    let (code, out) = g.sh("dmesg | head -3").await;
    let (dcode, _) = g.sh("dmesg > /dev/null").await;
    assert_ne!(dcode, 0, "dmesg read the host's kernel log: {out} ({code})");
    let (code, out) = g.sh("unshare -U true").await;
    assert_ne!(code, 0, "a nested user namespace was made");
    assert!(out.contains("Operation not permitted"), "{out}");
    // Files the guest's root makes keep guest ids on disk.
    let (code, out) = g
        .sh(
            "touch /root/by-root /root/by-1000 && chown 1000:1000 /root/by-1000 && \
             stat -c '%u:%g' /root/by-root /root/by-1000 /etc/shadow",
        )
        .await;
    assert_eq!((code, squash(&out)), (0, "0:0 1000:1000 0:42".to_owned()));
    // systemd's cgroups are the guest root's; the limits stay the host root's.
    let name = g.spec.name.as_str();
    for dir in common::host_cgroups(name) {
        let owner = std::fs::metadata(&dir).map(|m| m.uid()).ok();
        let limit = ["memory.limit_in_bytes", "memory.max", "pids.max"]
            .iter()
            .find_map(|f| std::fs::metadata(dir.join(f)).ok());
        // A hybrid host's cgroup2 is delegated where the guest has it (crun hides it: the
        // guest's directory there stays empty).
        let in_use =
            std::fs::read_to_string(dir.join("cgroup.procs")).is_ok_and(|p| !p.trim().is_empty());
        let own = dir.starts_with("/sys/fs/cgroup/systemd")
            || (dir.starts_with("/sys/fs/cgroup/unified") && in_use);
        if own {
            assert_eq!(owner, Some(start), "{} not delegated", dir.display());
        }
        if let Some(limit) = limit {
            assert_eq!(
                limit.uid(),
                0,
                "a limit in {} is the guest's",
                dir.display()
            );
        }
    }
    let disk = |f: &str| std::fs::metadata(g.spec.rootfs.join(f)).map(|m| (m.uid(), m.gid()));
    assert_eq!(disk("root/by-root").ok(), Some((0, 0)));
    assert_eq!(disk("root/by-1000").ok(), Some((1000, 1000)));
}

/// What lxcfs shows the guest: its memory limit, its CPU quota, its own uptime; and `nproc`
/// its cpuset.
async fn own_view<L: Launcher>(g: &Unpriv<L>) {
    let (_, total) = g.sh("free -m | awk '/^Mem:/ {print $2}'").await;
    assert_eq!(total, "512", "free -m");
    let (_, cpus) = g
        .sh("grep -c ^processor /proc/cpuinfo; cat /sys/devices/system/cpu/online")
        .await;
    assert_eq!(
        squash(&cpus),
        "1 0",
        "cpuinfo and cpu/online show the 0.5-CPU quota as 1"
    );
    let (_, nproc) = g.sh("nproc").await;
    let (_, uptime) = g.sh("cut -d. -f1 /proc/uptime").await;
    let host_uptime: u64 = std::fs::read_to_string("/proc/uptime")
        .ok()
        .and_then(|u| u.split('.').next()?.parse().ok())
        .unwrap_or(0);
    let uptime: u64 = uptime.parse().unwrap_or(u64::MAX);
    eprintln!(
        "{}: nproc {nproc}, uptime {uptime} s (host {host_uptime} s)",
        g.spec.name
    );
    assert!(uptime < 600 && uptime < host_uptime, "uptime {uptime}");
    assert_eq!(nproc, "1", "nproc: a cpuset of ceil(0.5) CPU");
}

/// A terminal session runs as the guest's root on a pty the guest's root owns; the console
/// shows the guest's getty.
async fn terminals<L: Launcher>(g: &Unpriv<L>) {
    let spec = TerminalSpec {
        argv: vec![
            "sh".into(),
            "-c".into(),
            "echo \"ids $(id -u) $(stat -c %u:%g $(tty)) $(cat /proc/self/uid_map)\"; exit 3"
                .into(),
        ],
        env: Vec::new(),
        cwd: None,
        rows: 24,
        cols: 120,
    };
    let mut session =
        g.rt.open_terminal(&g.spec.name, &spec)
            .await
            .expect("terminal");
    let mut seen = Vec::new();
    let _ = tokio::time::timeout(
        Duration::from_secs(60),
        session.output.read_to_end(&mut seen),
    )
    .await;
    let code = tokio::time::timeout(Duration::from_secs(60), session.exit)
        .await
        .expect("the session ends")
        .expect("exit code");
    let text = squash(&String::from_utf8_lossy(&seen));
    let start = g.range.start();
    assert!(
        text.contains(&format!("ids 0 0:5 0 {start} 65536")),
        "{text}"
    );
    assert_eq!(code, 3);

    let mut console = g.rt.attach_console(&g.spec.name).await.expect("console");
    console.input.write_all(b"\n").await.expect("key");
    let mut seen = Vec::new();
    let mut buf = [0u8; 512];
    let deadline = Instant::now() + Duration::from_secs(90);
    while !String::from_utf8_lossy(&seen).contains("login: ") {
        let read = tokio::time::timeout(Duration::from_secs(5), console.output.read(&mut buf));
        let read = read.await;
        if read.is_err() && Instant::now() < deadline {
            // Nothing yet (a getty still starting under load): ask again.
            console.input.write_all(b"\n").await.expect("key");
            continue;
        }
        let Ok(Ok(n @ 1..)) = read else {
            let (_, status) = g
                .sh("systemctl status --no-pager console-getty; ls -l /dev/console")
                .await;
            panic!(
                "no getty on the console: {:?}\n{status}",
                String::from_utf8_lossy(&seen)
            );
        };
        seen.extend_from_slice(&buf[..n]);
    }
}

/// Freezing holds the guest (its cgroups stay the host's), and a changed limit shows inside
/// at once through lxcfs.
async fn limits_follow<L: Launcher>(g: &Unpriv<L>, init: i32) {
    g.rt.freeze(&g.spec.name).await.expect("freeze");
    assert_eq!(
        g.rt.status(&g.spec.name).await.expect("status"),
        RuntimeStatus::Frozen { pid: init }
    );
    g.rt.thaw(&g.spec.name).await.expect("thaw");
    let host_cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let more = Limits {
        memory: Some(768 * MIB),
        cpu: Some(host_cpus as f64),
        ..limits()
    };
    g.rt.update_limits(&g.spec.name, &more)
        .await
        .expect("update limits");
    let (_, total) = g.sh("free -m | awk '/^Mem:/ {print $2}'").await;
    assert_eq!(total, "768", "free -m after the change");
    let (_, nproc) = g.sh("nproc").await;
    assert_eq!(
        nproc,
        host_cpus.to_string(),
        "nproc after a live --cpu {host_cpus}"
    );
    g.rt.update_limits(&g.spec.name, &limits())
        .await
        .expect("update limits");
    let (_, nproc) = g.sh("nproc").await;
    assert_eq!(nproc, "1", "nproc back at 0.5 CPU");
}

/// `systemctl reboot` inside: a new init comes up in the same namespaces and range.
async fn reboots<L: Launcher>(g: &Unpriv<L>, init: i32) -> i32 {
    let _ = g.sh("systemctl reboot").await;
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        match g.rt.status(&g.spec.name).await.expect("status") {
            RuntimeStatus::Running { pid } if pid != init => return pid,
            _ if Instant::now() > deadline => panic!("the guest did not come back"),
            _ => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
}

async fn lifecycle<L: Launcher>(g: Unpriv<L>) {
    assert!(g.lxcfs.is_some(), "lxcfs is installed by scripts/setup.sh");
    let t = Instant::now();
    let init = g.start().await;
    let started = t.elapsed();
    booted(&g).await;
    eprintln!(
        "{}: started in {started:?}, booted in {:?} (load {})",
        g.spec.name,
        t.elapsed(),
        std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .trim()
    );
    contained(&g, init).await;
    own_view(&g).await;
    terminals(&g).await;
    limits_follow(&g, init).await;
    let init = reboots(&g, init).await;
    booted(&g).await;
    contained(&g, init).await;
    own_view(&g).await;
    g.rt.stop(&g.spec.name, Duration::from_secs(60))
        .await
        .expect("stop");
    assert_eq!(
        g.rt.status(&g.spec.name).await.expect("status"),
        RuntimeStatus::Stopped
    );
    assert!(common::host_cgroups(g.spec.name.as_str()).is_empty());
    // The supervisor's cleanup must not reach the root filesystem through its mount.
    for kept in ["etc/os-release", "root/by-root", "usr/lib/systemd/systemd"] {
        assert!(
            g.spec.rootfs.join(kept).exists(),
            "{kept} is gone after stop"
        );
    }
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let root = g
        .config()
        .state_root
        .join(g.spec.name.as_str())
        .join("root");
    assert!(
        !mounts.contains(&*root.to_string_lossy()),
        "the guest's idmapped root is mounted on the host"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unprivileged_builtin_guest_is_contained_and_sees_its_limits() {
    require_host!();
    bounded(600, async {
        let g = Unpriv::prepare(BuiltinRuntime::new, limits(), true).await;
        lifecycle(g).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unprivileged_crun_guest_is_contained_and_sees_its_limits() {
    require_host!();
    if berth_runtime::local::probe::find("crun").is_none() {
        eprintln!("skipped: crun is not installed");
        return;
    }
    bounded(600, async {
        let g = Unpriv::prepare(|c| OciRuntime::new(c, Some(OciTool::Crun)), limits(), true).await;
        lifecycle(g).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unprivileged_runc_guest_is_contained_and_sees_its_limits() {
    require_host!();
    if berth_runtime::local::probe::find("runc").is_none() {
        eprintln!("skipped: runc is not installed");
        return;
    }
    bounded(600, async {
        let g = Unpriv::prepare(|c| OciRuntime::new(c, Some(OciTool::Runc)), limits(), true).await;
        lifecycle(g).await;
    })
    .await;
}
