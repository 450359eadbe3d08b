//! One run of the builtin runtime's latency, for `bench/runtimes.sh` to interleave with its
//! peers (crun, runc, nspawn, lxc) round-robin. Each invocation prints its samples as
//! `what<TAB>unit<TAB>value` lines, the input of `bench/table.py`:
//!
//! - `bench_true true ROOTFS WORK`: start → exit of a container whose init is `/bin/true`
//!   (ROOTFS's `/sbin/init` must point at it), timed inside from `start()` until the shim has
//!   reaped it and removed its state;
//! - `bench_true systemd ROOTFS WORK`: a systemd guest started, brought to
//!   `systemctl is-system-running` = running, `exec /bin/true` ten times, stopped.
//!
//! ROOTFS is used in place (the caller copies the image); WORK holds the runtime state and the
//! bundles. Root; the shim is found next to the examples directory:
//! `cargo build --release -p berth-runtime --bins --examples`.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use berth_runtime::builtin::BuiltinRuntime;
use berth_runtime::local::LocalConfig;
use berth_runtime::{ContainerSpec, ExecSpec, Runtime, RuntimeStatus};
use berth_types::{InstanceName, Limits};
use nix::fcntl::{Flock, FlockArg};

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

const USAGE: &str = "usage: bench_true true|systemd ROOTFS WORK";

#[tokio::main]
async fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [mode, rootfs, work] = args.as_slice() else {
        return Err(USAGE.into());
    };
    let (rootfs, work) = (PathBuf::from(rootfs), PathBuf::from(work));
    let exe = std::env::current_exe()?;
    let shim = exe
        .parent()
        .and_then(Path::parent)
        .map(|d| d.join("berth-shim"))
        .ok_or("cannot find berth-shim next to the examples directory")?;
    let rt = BuiltinRuntime::new(LocalConfig {
        state_root: work.join("runtime"),
        shim_command: vec![shim.into()],
    });
    match mode.as_str() {
        "true" => true_exit(&rt, &rootfs, &work).await,
        "systemd" => systemd(&rt, &rootfs, &work).await,
        _ => Err(USAGE.into()),
    }
}

async fn true_exit(rt: &BuiltinRuntime, rootfs: &Path, work: &Path) -> Result<()> {
    let spec = container(&format!("bench-true-{}", std::process::id()), rootfs, work);
    let t = Instant::now();
    rt.start(&spec).await?;
    // Exited, reaped and cleaned up by the shim: the runtime's state is gone. The supervisor
    // holds its lock until it has removed that state; waiting for the lock costs no CPU, where
    // polling `status` every millisecond competed with the guest's start on a 2-CPU machine.
    let state = rt.config().state_root.join(spec.name.as_str());
    let lock = state.join("shim.lock");
    tokio::task::spawn_blocking(move || supervisor_gone(&lock)).await??;
    while rt.status(&spec.name).await? != RuntimeStatus::Stopped || state.exists() {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    sample(
        "start → exit of /bin/true: builtin, in-process (start() → state gone)",
        t.elapsed(),
    );
    Ok(())
}

async fn systemd(rt: &BuiltinRuntime, rootfs: &Path, work: &Path) -> Result<()> {
    let spec = container(&format!("bench-{}", std::process::id()), rootfs, work);
    let t = Instant::now();
    rt.start(&spec).await?;
    let started = t.elapsed();
    wait_running(rt, &spec.name).await?;
    let running = t.elapsed();
    let mut exec = vec![];
    for _ in 0..10 {
        let t = Instant::now();
        let r = rt.exec(&spec.name, &exec_true()).await?;
        if r.exit_code != 0 {
            return Err(format!("exec /bin/true exited {}", r.exit_code).into());
        }
        exec.push(t.elapsed());
    }
    let t = Instant::now();
    rt.stop(&spec.name, Duration::from_secs(30)).await?;
    let stopped = t.elapsed();
    sample("builtin systemd guest: start() returns", started);
    sample(
        "builtin systemd guest: start → is-system-running = running",
        running,
    );
    for e in exec {
        sample("builtin systemd guest: exec /bin/true", e);
    }
    sample(
        "builtin systemd guest: stop (SIGRTMIN+3 → cleaned up)",
        stopped,
    );
    Ok(())
}

/// Blocks until no supervisor holds `lock` (at once if it is gone already).
fn supervisor_gone(lock: &Path) -> std::io::Result<()> {
    let file = match std::fs::File::open(lock) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    Flock::lock(file, FlockArg::LockShared)
        .map(drop)
        .map_err(|(_, errno)| errno.into())
}

fn sample(what: &str, elapsed: Duration) {
    println!("{what}\tms\t{:.3}", elapsed.as_secs_f64() * 1000.0);
}

fn container(name: &str, rootfs: &Path, work: &Path) -> ContainerSpec {
    let name = InstanceName::parse(name).expect("valid bench name");
    ContainerSpec {
        hostname: name.to_string(),
        state_dir: work.join(format!("{name}.bundle")),
        runtime: None,
        name,
        rootfs: rootfs.to_owned(),
        limits: Limits::default(),
        netns: None,
        security: Default::default(),
    }
}

fn exec_true() -> ExecSpec {
    ExecSpec {
        argv: vec!["/bin/true".into()],
        env: Default::default(),
        cwd: None,
        stdin: None,
        timeout: Duration::from_secs(10),
        output_cap: 1024,
    }
}

async fn wait_running(rt: &BuiltinRuntime, name: &InstanceName) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(120);
    let probe = ExecSpec {
        argv: vec!["systemctl".into(), "is-system-running".into()],
        ..exec_true()
    };
    while Instant::now() < deadline {
        let r = rt.exec(name, &probe).await?;
        match String::from_utf8_lossy(&r.stdout).trim() {
            "running" | "degraded" => return Ok(()),
            _ => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
    Err("the guest did not finish booting".into())
}
