//! The checks every unprivileged guest passes on any backend: its ids, systemd, the host's
//! kernel settings and log out of reach, guest ids on disk, lxcfs' view, a live limit,
//! freezing, a terminal and a reboot from inside.

use std::time::{Duration, Instant};

use berth_runtime::{ContainerSpec, ExecResult, ExecSpec, Runtime, RuntimeStatus};
use berth_types::{IdRange, Limits};
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

    check_escapes(rt, name, label).await;

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

/// lxcfs' view: the memory limit in `free`, one CPU for a 1-CPU quota, the guest's uptime;
/// `nproc` one CPU too (its cpuset).
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
    assert_eq!(nproc, "1", "{label}: nproc (the guest's cpuset)");
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

/// A known escape list, each refused, with the host's values compared before and after.
async fn check_escapes(rt: &impl Runtime, name: &berth_types::InstanceName, label: &str) {
    let host_files = [
        "/sys/kernel/uevent_helper",
        "/proc/sys/kernel/core_pattern",
        "/proc/sys/vm/drop_caches",
    ];
    let before: Vec<String> = host_files
        .iter()
        .map(|f| std::fs::read_to_string(f).unwrap_or_default())
        .collect();
    let attempts = [
        // Made inside the guest's own mount namespace, the read-only bind is not locked and
        // may be remounted; the files stay the host root's.
        (
            "remount /proc/sys rw",
            "mount -o remount,rw /proc/sys; echo '|/tmp/x' > /proc/sys/kernel/core_pattern",
        ),
        ("write /sys", "echo /tmp/x > /sys/kernel/uevent_helper"),
        (
            "drop the host's caches",
            "echo 3 > /proc/sys/vm/drop_caches",
        ),
        (
            "a block device node",
            "mknod /tmp/sda b 8 0 && head -c1 /tmp/sda",
        ),
        ("/dev/mem", "mknod /tmp/mem c 1 1 && head -c1 /tmp/mem"),
        (
            "cgroup release_agent",
            "mkdir -p /tmp/cg && mount -t cgroup -o memory cgroup /tmp/cg && \
             echo /tmp/x > /tmp/cg/release_agent",
        ),
    ];
    for (what, script) in attempts {
        let (code, out, err) = exec(rt, name, script).await;
        eprintln!("{label}: {what}: exit {code} {out:?} {err:?}");
        assert_ne!(code, 0, "{label}: {what} succeeded");
    }
    let _ = exec(
        rt,
        name,
        "umount /tmp/cg 2>/dev/null; rm -f /tmp/sda /tmp/mem",
    )
    .await;
    let after: Vec<String> = host_files
        .iter()
        .map(|f| std::fs::read_to_string(f).unwrap_or_default())
        .collect();
    assert_eq!(before, after, "{label}: the host's values changed");
}
