//! Latency of the builtin runtime on this host, from a copy of the probe rootfs:
//! start → `systemctl is-system-running` = running, stop, `exec /bin/true`, and the
//! start-to-exit of a container whose init is `/bin/true`.
//!
//! `cargo build -p berth-runtime --bins --examples && sudo target/debug/examples/bench_true
//! [ROOTFS] [RUNS]` (the shim is found next to the examples directory).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use berth_runtime::builtin::BuiltinRuntime;
use berth_runtime::local::LocalConfig;
use berth_runtime::{ContainerSpec, ExecSpec, Runtime, RuntimeStatus};
use berth_types::{InstanceName, Limits};

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

#[tokio::main]
async fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let source = PathBuf::from(
        args.next()
            .unwrap_or("/var/cache/berth-test/images/debian-12-amd64/rootfs".into()),
    );
    let runs: usize = args.next().map_or(Ok(3), |r| r.parse())?;
    let exe = std::env::current_exe()?;
    let shim = exe
        .parent()
        .and_then(Path::parent)
        .map(|d| d.join("berth-shim"))
        .ok_or("cannot find berth-shim")?;
    let work = tempdir()?;
    let rt = BuiltinRuntime::new(LocalConfig {
        state_root: work.join("runtime"),
        shim_command: vec![shim.into()],
    });
    let result = bench(&rt, &source, &work, runs).await;
    let _ = std::fs::remove_dir_all(&work);
    result
}

async fn bench(rt: &BuiltinRuntime, source: &Path, work: &Path, runs: usize) -> Result<()> {
    let systemd = copy_rootfs(source, &work.join("systemd"))?;
    let truefs = copy_rootfs(source, &work.join("true"))?;
    std::fs::remove_file(truefs.join("sbin/init"))?;
    std::os::unix::fs::symlink("/bin/true", truefs.join("sbin/init"))?;

    let (mut started, mut running, mut stopped, mut exec, mut true_exit) =
        (vec![], vec![], vec![], vec![], vec![]);
    for run in 0..runs {
        let spec = container(
            &format!("bench-{}-{run}", std::process::id()),
            &systemd,
            work,
        );
        let t = Instant::now();
        rt.start(&spec).await?;
        started.push(t.elapsed());
        wait_running(rt, &spec.name).await?;
        running.push(t.elapsed());
        for _ in 0..10 {
            let t = Instant::now();
            let r = rt.exec(&spec.name, &exec_true()).await?;
            assert_eq!(r.exit_code, 0);
            exec.push(t.elapsed());
        }
        let t = Instant::now();
        rt.stop(&spec.name, Duration::from_secs(30)).await?;
        stopped.push(t.elapsed());

        let spec = container(
            &format!("bench-true-{}-{run}", std::process::id()),
            &truefs,
            work,
        );
        let t = Instant::now();
        rt.start(&spec).await?;
        // Exited, reaped and cleaned up by the shim: the runtime's state is gone.
        let state = rt.config().state_root.join(spec.name.as_str());
        while rt.status(&spec.name).await? != RuntimeStatus::Stopped || state.exists() {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        true_exit.push(t.elapsed());
    }
    report("start() returns (systemd guest)", &mut started);
    report("start → is-system-running = running", &mut running);
    report("stop (SIGRTMIN+3 → cleaned up)", &mut stopped);
    report("exec /bin/true in a running guest", &mut exec);
    report("start → exit of a /bin/true container", &mut true_exit);
    Ok(())
}

fn container(name: &str, rootfs: &Path, work: &Path) -> ContainerSpec {
    let name = InstanceName::parse(name).expect("valid bench name");
    ContainerSpec {
        hostname: name.to_string(),
        state_dir: work.join(format!("{name}.bundle")),
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

fn report(what: &str, samples: &mut [Duration]) {
    samples.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let median = samples.get(samples.len() / 2).copied().unwrap_or_default();
    let (min, max) = (
        samples.first().copied().unwrap_or_default(),
        samples.last().copied().unwrap_or_default(),
    );
    println!(
        "{what:<40} median {:8.1} ms   min {:8.1} ms   max {:8.1} ms   (n={})",
        ms(median),
        ms(min),
        ms(max),
        samples.len()
    );
}

fn tempdir() -> Result<PathBuf> {
    let dir = PathBuf::from(format!("/var/tmp/berth-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

fn copy_rootfs(source: &Path, dest: &Path) -> Result<PathBuf> {
    let status = Command::new("cp")
        .args(["-a", "--reflink=auto"])
        .arg(source)
        .arg(dest)
        .status()?;
    if !status.success() {
        return Err(format!("copying {} failed", source.display()).into());
    }
    Ok(dest.to_owned())
}
