//! Real-container tests of the builtin runtime (root, cgroups and the probe rootfs needed;
//! skipped with a note otherwise). Each boots Debian 12's systemd in a copy of the rootfs.

mod common;

use std::time::{Duration, Instant};

use berth_runtime::{ExecSpec, Runtime, RuntimeError, RuntimeStatus};
use berth_types::Limits;
use common::{Guest, bounded};

const MIB: u64 = 1 << 20;

fn limits(cpu: Option<f64>, memory: Option<u64>, processes: Option<u64>) -> Limits {
    Limits {
        cpu,
        memory,
        disk: None,
        processes,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn boots_systemd_with_hostname_limits_and_exec() {
    require_host!();
    bounded(180, async {
        let g = Guest::prepare(limits(Some(0.5), Some(256 * MIB), Some(300))).await;
        let t = Instant::now();
        let pid = g.start().await;
        assert_eq!(
            g.rt.status(g.name()).await.expect("status"),
            RuntimeStatus::Running { pid }
        );
        let again = g.rt.start(&g.spec).await.expect_err("second start");
        assert!(matches!(again, RuntimeError::AlreadyRunning(_)), "{again}");
        let state = g.wait_booted(Duration::from_secs(90)).await;
        eprintln!("{}: {state} after {:?}", g.name(), t.elapsed());
        assert!(
            matches!(state.as_str(), "running" | "degraded"),
            "state {state}"
        );
        assert_eq!(g.sh("cat /proc/1/comm").await, (0, "systemd".into()));
        assert_eq!(g.sh("hostname").await, (0, g.name().to_string()));
        assert_eq!(
            g.sh("cat /sys/class/net/lo/flags").await.1,
            "0x9",
            "lo is up"
        );
        // Devices outside the allow-list cannot be opened even after mknod.
        let (code, _) = g.sh("mknod /tmp/kmsg c 1 11 && : < /tmp/kmsg").await;
        assert_ne!(code, 0, "a denied device could be opened");
        assert_eq!(g.sh(": < /dev/null && echo ok").await, (0, "ok".into()));
        // On a v1 devices hierarchy the same allow-list is the cgroup's (defence in depth
        // beside the eBPF filter on cgroup2): no `a *:* rwm`, /dev/null allowed.
        if let Some(list) = v1_devices_list(pid) {
            assert!(!list.lines().any(|l| l.starts_with("a ")), "{list}");
            assert!(list.lines().any(|l| l == "c 1:3 rwm"), "{list}");
        }
        let (_, limits) = g
            .sh(
                "cd /sys/fs/cgroup; if [ -f cpu.max ]; then cat cpu.max memory.max pids.max; \
                 else cat cpu/cpu.cfs_quota_us memory/memory.limit_in_bytes pids/pids.max; fi",
            )
            .await;
        let limits: Vec<&str> = limits.lines().collect();
        assert!(limits[0].starts_with("50000"), "cpu {limits:?}");
        assert_eq!(limits[1..], ["268435456", "300"]);

        // exec: exit codes, stdin, env, cwd, output cap, a missing command.
        assert_eq!(g.sh("exit 7").await.0, 7);
        let echoed = g.exec(&["cat"], Some(b"hello")).await;
        assert_eq!(echoed.stdout, b"hello");
        let spec = ExecSpec {
            argv: vec![
                "sh".into(),
                "-c".into(),
                "echo $GREETING; pwd; head -c 5000 /dev/zero".into(),
            ],
            env: [("GREETING".to_owned(), "hi".to_owned())].into(),
            cwd: Some("/etc".into()),
            stdin: None,
            timeout: Duration::from_secs(30),
            output_cap: 10,
        };
        let r = g.rt.exec(g.name(), &spec).await.expect("exec");
        assert_eq!(
            (r.stdout.as_slice(), r.truncated),
            (&b"hi\n/etc\n\0\0"[..], true)
        );
        let missing = ExecSpec {
            argv: vec!["no-such-cmd".into()],
            ..spec.clone()
        };
        let err =
            g.rt.exec(g.name(), &missing)
                .await
                .expect_err("missing command");
        assert!(matches!(err, RuntimeError::CommandNotFound(_)), "{err}");
        let slow = ExecSpec {
            argv: vec!["sleep".into(), "30".into()],
            timeout: Duration::from_secs(1),
            ..spec
        };
        let err = g.rt.exec(g.name(), &slow).await.expect_err("timeout");
        assert!(matches!(err, RuntimeError::ExecTimeout(1)), "{err}");

        let raised = limits_after_update(&g).await;
        assert_eq!(raised, "400");
    })
    .await;
}

async fn limits_after_update(g: &Guest) -> String {
    g.rt.update_limits(g.name(), &limits(Some(1.0), Some(512 * MIB), Some(400)))
        .await
        .expect("update limits");
    let (_, v) = g
        .sh("cat /sys/fs/cgroup/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids/pids.max")
        .await;
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_hog_is_oom_killed_inside_and_init_survives() {
    require_host!();
    bounded(180, async {
        let g = Guest::prepare(limits(None, Some(128 * MIB), None)).await;
        let pid = g.start().await;
        g.wait_booted(Duration::from_secs(90)).await;
        // tail keeps its whole input in memory: far past the limit.
        let (code, _) = g.sh("head -c 600M /dev/zero | tail -c 600M >/dev/null").await;
        assert_ne!(code, 0, "the hog was not stopped");
        let (_, events) = g
            .sh("cat /sys/fs/cgroup/memory.events 2>/dev/null || cat /sys/fs/cgroup/memory/memory.oom_control")
            .await;
        let kills: u64 = events
            .lines()
            .find_map(|l| l.strip_prefix("oom_kill "))
            .and_then(|n| n.trim().parse().ok())
            .unwrap_or(0);
        assert!(kills > 0, "no OOM kill recorded: {events}");
        assert_eq!(g.rt.status(g.name()).await.expect("status"), RuntimeStatus::Running { pid });
        assert_eq!(g.sh("cat /proc/1/comm").await, (0, "systemd".into()));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fork_bomb_stops_at_the_process_limit() {
    require_host!();
    bounded(180, async {
        let g = Guest::prepare(limits(None, None, Some(150))).await;
        g.start().await;
        g.wait_booted(Duration::from_secs(90)).await;
        let name = g.name().to_string();
        let count = |file: &str| -> u64 {
            common::host_cgroup_file(&name, file)
                .and_then(|v| v.trim_start_matches("max ").trim().parse().ok())
                .unwrap_or(0)
        };
        // The bomb stays in the command's process group, which the exec timeout kills whole.
        let bomb = ExecSpec {
            argv: vec!["bash".into(), "-c".into(), ":(){ :|:& };:; sleep 60".into()],
            env: Default::default(),
            cwd: None,
            stdin: None,
            timeout: Duration::from_secs(5),
            output_cap: 1024,
        };
        let run = g.rt.exec(g.name(), &bomb);
        let watch = async {
            let mut peak = 0;
            for _ in 0..40 {
                peak = peak.max(count("pids.current"));
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            peak
        };
        let (result, peak) = tokio::join!(run, watch);
        assert!(
            matches!(result, Err(RuntimeError::ExecTimeout(5))),
            "{result:?}"
        );
        assert!(count("pids.events") > 0, "the limit was never reached");
        assert!(peak <= 150, "{peak} tasks");
        let deadline = Instant::now() + Duration::from_secs(10);
        while count("pids.current") > 60 {
            assert!(Instant::now() < deadline, "the bomb outlived its exec");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        // The guest still works once the bomb is gone.
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert_eq!(g.sh("cat /proc/1/comm").await, (0, "systemd".into()));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn freeze_thaw_then_stop_leaves_nothing() {
    require_host!();
    bounded(180, async {
        let g = Guest::prepare(Limits::default()).await;
        let pid = g.start().await;
        g.wait_booted(Duration::from_secs(90)).await;
        g.rt.freeze(g.name()).await.expect("freeze");
        assert_eq!(
            g.rt.status(g.name()).await.expect("status"),
            RuntimeStatus::Frozen { pid }
        );
        let frozen = ExecSpec {
            argv: vec!["true".into()],
            env: Default::default(),
            cwd: None,
            stdin: None,
            timeout: Duration::from_secs(30),
            output_cap: 64,
        };
        let err =
            g.rt.exec(g.name(), &frozen)
                .await
                .expect_err("exec while frozen");
        assert!(err.to_string().contains("frozen"), "{err}");
        g.rt.thaw(g.name()).await.expect("thaw");
        assert_eq!(
            g.rt.status(g.name()).await.expect("status"),
            RuntimeStatus::Running { pid }
        );
        assert_eq!(g.sh("echo alive").await, (0, "alive".into()));
        assert!(!g.host_cgroups().is_empty());
        let t = Instant::now();
        g.rt.stop(g.name(), Duration::from_secs(30))
            .await
            .expect("stop");
        eprintln!("{}: stopped in {:?}", g.name(), t.elapsed());
        assert_eq!(
            g.rt.status(g.name()).await.expect("status"),
            RuntimeStatus::Stopped
        );
        assert_eq!(g.host_cgroups(), Vec::<std::path::PathBuf>::new());
        assert!(!g.state_root().join(g.name().as_str()).exists());
        assert!(
            !g.state_root()
                .join("youki")
                .join(g.name().as_str())
                .exists()
        );
        // Stopping, killing and removing what is stopped all succeed.
        g.rt.stop(g.name(), Duration::from_secs(1))
            .await
            .expect("stop again");
        g.rt.kill(g.name()).await.expect("kill stopped");
        g.rt.remove(g.name()).await.expect("remove");
        let err = g.rt.freeze(g.name()).await.expect_err("freeze stopped");
        assert!(matches!(err, RuntimeError::NotRunning(_)), "{err}");
        let err =
            g.rt.exec(g.name(), &frozen)
                .await
                .expect_err("exec stopped");
        assert!(matches!(err, RuntimeError::NotRunning(_)), "{err}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_guests_run_side_by_side_and_reboot_restarts_one() {
    require_host!();
    bounded(240, async {
        let (a, b) = tokio::join!(
            Guest::prepare(Limits::default()),
            Guest::prepare(Limits::default())
        );
        let (pa, pb) = tokio::join!(a.start(), b.start());
        let (sa, sb) = tokio::join!(
            a.wait_booted(Duration::from_secs(120)),
            b.wait_booted(Duration::from_secs(120))
        );
        assert!(matches!(sa.as_str(), "running" | "degraded"), "{sa}");
        assert!(matches!(sb.as_str(), "running" | "degraded"), "{sb}");
        assert_eq!(a.sh("hostname").await.1, a.name().to_string());
        assert_eq!(b.sh("hostname").await.1, b.name().to_string());
        // Each systemd tracks its units in its own cgroup tree.
        for g in [&a, &b] {
            let named =
                std::path::Path::new("/sys/fs/cgroup/systemd/berth").join(g.name().as_str());
            if std::path::Path::new("/sys/fs/cgroup/systemd").exists() {
                assert!(named.join("init.scope").exists(), "{named:?}");
            }
        }
        // `reboot` inside: the shim boots the guest again.
        let _ = a.sh("systemctl reboot").await;
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            match a.rt.status(a.name()).await.expect("status") {
                RuntimeStatus::Running { pid } if pid != pa => break,
                _ if Instant::now() > deadline => panic!("no reboot"),
                _ => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
        assert!(matches!(
            a.wait_booted(Duration::from_secs(90)).await.as_str(),
            "running" | "degraded"
        ));
        assert_eq!(
            b.rt.status(b.name()).await.expect("status"),
            RuntimeStatus::Running { pid: pb }
        );
        a.rt.stop(a.name(), Duration::from_secs(30))
            .await
            .expect("stop a");
        b.rt.stop(b.name(), Duration::from_secs(30))
            .await
            .expect("stop b");
        assert!(a.host_cgroups().is_empty() && b.host_cgroups().is_empty());
    })
    .await;
}

/// The `devices.list` of `pid`'s cgroup on a v1 devices hierarchy (`None` without one).
fn v1_devices_list(pid: i32) -> Option<String> {
    let cgroups = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).ok()?;
    let path = cgroups.lines().find_map(|l| {
        let mut parts = l.splitn(3, ':');
        let (_, controllers, path) = (parts.next()?, parts.next()?, parts.next()?);
        controllers
            .split(',')
            .any(|c| c == "devices")
            .then(|| path.to_owned())
    })?;
    std::fs::read_to_string(format!("/sys/fs/cgroup/devices{path}/devices.list")).ok()
}
