//! Launch cost of unprivileged guests beside privileged ones, interleaved, on one backend:
//! `start()` (init running) and start → `systemctl is-system-running` = running/degraded, for a
//! systemd guest from a copy of ROOTFS. The unprivileged run also makes the guest's user and
//! network namespaces first (berthd's part), timed apart. Root; prints one table with n, p50,
//! p99, max and the load average.
//!
//! `unpriv_bench ROOTFS SHIM RUNS [builtin|crun|runc]`

use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use berth_isolation::{PrivateProc, UserNamespace, nsfile};
use berth_runtime::builtin::BuiltinRuntime;
use berth_runtime::local::{Launcher, LocalConfig, LocalRuntime};
use berth_runtime::oci::{OciRuntime, OciTool};
use berth_runtime::{ContainerSpec, ExecSpec, GuestSecurity, Runtime};
use berth_types::{IdRange, InstanceName, Limits};

type Error = Box<dyn std::error::Error>;

#[derive(Default)]
struct Series {
    ns: Vec<Duration>,
    start: Vec<Duration>,
    running: Vec<Duration>,
}

fn row(label: &str, mut v: Vec<Duration>) {
    if v.is_empty() {
        return;
    }
    v.sort();
    let at = |q: f64| v[((v.len() as f64 * q).ceil() as usize).clamp(1, v.len()) - 1];
    println!(
        "| {label} | {} | {:.1} ms | {:.1} ms | {:.1} ms |",
        v.len(),
        at(0.5).as_secs_f64() * 1e3,
        at(0.99).as_secs_f64() * 1e3,
        at(1.0).as_secs_f64() * 1e3
    );
}

async fn is_running<L: Launcher>(rt: &LocalRuntime<L>, name: &InstanceName) -> bool {
    let spec = ExecSpec {
        argv: vec!["systemctl".into(), "is-system-running".into()],
        env: Default::default(),
        cwd: None,
        stdin: None,
        timeout: Duration::from_secs(30),
        output_cap: 4096,
    };
    match rt.exec(name, &spec).await {
        Ok(r) => matches!(
            String::from_utf8_lossy(&r.stdout).trim(),
            "running" | "degraded"
        ),
        Err(_) => false,
    }
}

/// One boot: returns (namespaces, start, to running).
async fn boot<L: Launcher>(
    rt: &LocalRuntime<L>,
    rootfs: &Path,
    work: &Path,
    name: InstanceName,
    range: Option<IdRange>,
) -> Result<(Duration, Duration, Duration), Error> {
    let t = Instant::now();
    let (userns, netns) = (
        work.join(format!("{name}.userns")),
        work.join(format!("{name}.netns")),
    );
    let mut security = GuestSecurity::default();
    if let Some(range) = range {
        let proc = PrivateProc::new()?;
        let (u, n) = UserNamespace::with_network(range, &proc)?;
        nsfile::bind(u.fd(), &userns)?;
        nsfile::bind(n.as_fd(), &netns)?;
        security.idmap = Some(range);
        security.userns = Some(userns.clone());
    }
    let ns = t.elapsed();
    let spec = ContainerSpec {
        hostname: name.to_string(),
        name: name.clone(),
        rootfs: rootfs.to_owned(),
        limits: Limits::default(),
        state_dir: work.join(format!("{name}.bundle")),
        runtime: None,
        netns: range.map(|_| netns.clone()),
        security,
    };
    let t = Instant::now();
    let result = async {
        rt.start(&spec).await?;
        let start = t.elapsed();
        let deadline = Instant::now() + Duration::from_secs(120);
        while !is_running(rt, &name).await {
            if Instant::now() > deadline {
                return Err::<_, Error>("not running within 120 s".into());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Ok((start, t.elapsed()))
    }
    .await;
    let _ = rt.stop(&name, Duration::from_secs(30)).await;
    let _ = rt.remove(&name).await;
    for f in [&userns, &netns] {
        let _ = nsfile::release(f);
    }
    let (start, running) = result?;
    Ok((ns, start, running))
}

async fn bench<L: Launcher>(
    make: impl Fn(LocalConfig) -> LocalRuntime<L>,
    image: &Path,
    shim: &str,
    runs: usize,
) -> Result<(), Error> {
    let work = tempfile::Builder::new()
        .prefix("berth-unpriv-bench-")
        .tempdir_in("/var/tmp")?;
    let rootfs = work.path().join("rootfs");
    let copied = std::process::Command::new("cp")
        .args(["-a", "--reflink=auto"])
        .arg(image)
        .arg(&rootfs)
        .status()?;
    if !copied.success() {
        return Err("copying the image failed".into());
    }
    let rt = make(LocalConfig {
        state_root: work.path().join("runtime"),
        shim_command: vec![shim.into()],
    });
    let range = IdRange::new(0x6fff_0000 - (std::process::id() % 64) * 65_536)?;
    let (mut privileged, mut unprivileged) = (Series::default(), Series::default());
    let pid = std::process::id();
    for i in 0..runs {
        for (mode, series, range) in [
            ("p", &mut privileged, None),
            ("u", &mut unprivileged, Some(range)),
        ] {
            let name = InstanceName::parse(&format!("b{pid}-{i}-{mode}"))?;
            let booted = boot(&rt, &rootfs, work.path(), name, range).await;
            let (ns, start, running) = match booted {
                Ok(b) => b,
                Err(e) if std::env::var_os("BENCH_KEEP").is_some() => {
                    eprintln!("kept {}", work.keep().display());
                    return Err(e);
                }
                Err(e) => return Err(e),
            };
            series.ns.push(ns);
            series.start.push(start);
            series.running.push(running);
        }
    }
    println!("| what | n | p50 | p99 | max |\n|---|---|---|---|---|");
    row(
        "unprivileged: user + network namespace, bound",
        unprivileged.ns,
    );
    row("privileged: start() returns", privileged.start);
    row("unprivileged: start() returns", unprivileged.start);
    row("privileged: start → is-system-running", privileged.running);
    row(
        "unprivileged: start → is-system-running",
        unprivileged.running,
    );
    println!(
        "load average: {}",
        std::fs::read_to_string("/proc/loadavg")?.trim()
    );
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [image, shim, runs, rest @ ..] = &args[..] else {
        return Err("usage: unpriv_bench ROOTFS SHIM RUNS [builtin|crun|runc]".into());
    };
    let runs: usize = runs.parse()?;
    let image = PathBuf::from(image);
    let backend = rest.first().map_or("builtin", String::as_str);
    println!("backend {backend}, {runs} interleaved runs");
    match backend {
        "builtin" => bench(BuiltinRuntime::new, &image, shim, runs).await,
        "crun" => {
            bench(
                |c| OciRuntime::new(c, Some(OciTool::Crun)),
                &image,
                shim,
                runs,
            )
            .await
        }
        "runc" => {
            bench(
                |c| OciRuntime::new(c, Some(OciTool::Runc)),
                &image,
                shim,
                runs,
            )
            .await
        }
        other => Err(format!("unknown backend {other}").into()),
    }
}
