//! A guest sees its own machine's CPUs, with a real berthd: on every usable local backend (and
//! oci with runc too when installed) a
//! guest launched with `--cpu 1` on a host of several CPUs gets a cpuset of one CPU in its
//! cgroup, `nproc` inside prints 1 and (lxcfs on) `/proc/cpuinfo` lists one processor; after
//! `berth set --cpu <host CPUs>` on the running guest both show every host CPU. Two 1-CPU
//! guests on the builtin backend land on different CPUs. Run as root (CI is root).

#[path = "common/real.rs"]
mod real;

use std::path::{Path, PathBuf};

use real::{Error, RealDaemon, host_traces};

/// The two tests here run one at a time: the spread test reads which CPUs other guests hold
/// after its own launch, and guests the other test starts and stops in between would move
/// those counts under it.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// `GET /system`'s usable local backends.
fn usable_backends(d: &RealDaemon) -> Result<Vec<String>, Error> {
    let info = d.json(&["system"])?;
    Ok(info["backends"]
        .as_array()
        .ok_or("system has no backends")?
        .iter()
        .filter(|b| b["usable"].as_bool().unwrap_or(false))
        .filter_map(|b| b["name"].as_str().map(str::to_owned))
        .filter(|b| b != "proxmox" && b != "sim")
        .collect())
}

/// The guest's cpuset as berthd (or its runtime) wrote it on the host.
fn host_cpuset(name: &str) -> Result<String, Error> {
    let candidates = [
        PathBuf::from("/sys/fs/cgroup/cpuset/berth").join(name),
        PathBuf::from("/sys/fs/cgroup/berth").join(name),
    ];
    for dir in candidates {
        if let Ok(text) = std::fs::read_to_string(dir.join("cpuset.cpus")) {
            return Ok(text.trim().to_owned());
        }
    }
    Err(format!("{name}: no cpuset.cpus in its cgroup").into())
}

fn host_cpus() -> Result<usize, Error> {
    Ok(std::thread::available_parallelism()?.get())
}

/// `nproc` and the number of processors in `/proc/cpuinfo` inside the guest.
fn guest_view(d: &RealDaemon, name: &str) -> Result<(String, usize), Error> {
    let (code, nproc) = d.exec(name, &["nproc"])?;
    assert_eq!(code, 0, "{name}: nproc failed");
    let (_, cpuinfo) = d.exec(name, &["cat", "/proc/cpuinfo"])?;
    let processors = cpuinfo
        .lines()
        .filter(|l| l.starts_with("processor"))
        .count();
    let (_, online) = d.exec(name, &["cat", "/sys/devices/system/cpu/online"])?;
    eprintln!(
        "{name}: nproc {} cpuinfo {processors} online {} host cpuset {}",
        nproc.trim(),
        online.trim(),
        host_cpuset(name).unwrap_or_default()
    );
    Ok((nproc.trim().to_owned(), processors))
}

fn lxcfs_installed() -> bool {
    ["/usr/bin/lxcfs", "/bin/lxcfs", "/usr/sbin/lxcfs"]
        .iter()
        .any(|p| Path::new(p).exists())
}

/// One guest on `backend`: 1 CPU, then every host CPU after a live change.
fn round(d: &RealDaemon, backend: &str, label: &str) -> Result<(), Error> {
    let all = host_cpus()?;
    let name = d.name(label);
    d.ok(&[
        "launch",
        "debian/12",
        &name,
        "--backend",
        backend,
        "--cpu",
        "1",
        "--memory",
        "256MiB",
    ])?;
    let set = host_cpuset(&name)?;
    assert!(
        !set.contains(',') && !set.contains('-'),
        "{label}: one CPU in the guest's cpuset, got {set:?}"
    );
    let (nproc, processors) = guest_view(d, &name)?;
    assert_eq!(nproc, "1", "{label}: nproc with --cpu 1");
    if lxcfs_installed() {
        assert_eq!(processors, 1, "{label}: /proc/cpuinfo through lxcfs");
    }
    d.ok(&["set", &name, "--cpu", &all.to_string()])?;
    let (nproc, processors) = guest_view(d, &name)?;
    assert_eq!(
        nproc,
        all.to_string(),
        "{label}: nproc after set --cpu {all}"
    );
    if lxcfs_installed() {
        assert_eq!(processors, all, "{label}: /proc/cpuinfo after the change");
    }
    d.ok(&["set", &name, "--cpu", "0.5"])?;
    let (nproc, _) = guest_view(d, &name)?;
    assert_eq!(nproc, "1", "{label}: nproc after set --cpu 0.5");
    d.ok(&["delete", "--force", &name])?;
    assert_eq!(host_traces(&name), Vec::<String>::new(), "{label}: traces");
    Ok(())
}

#[test]
fn nproc_follows_the_cpu_limit_on_every_local_backend() -> Result<(), Error> {
    let _alone = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    if host_cpus()? < 2 {
        eprintln!("skipped: a 1-CPU host cannot show a smaller cpuset");
        return Ok(());
    }
    let d = RealDaemon::start(&[])?;
    d.ensure_image()?;
    let only = std::env::var("BERTH_TEST_BACKENDS").ok();
    let mut ran = Vec::new();
    for backend in usable_backends(&d)? {
        if only
            .as_deref()
            .is_some_and(|o| !o.split(',').any(|b| b == backend))
        {
            continue;
        }
        round(&d, &backend, &format!("cs{backend}"))?;
        ran.push(backend);
    }
    eprintln!("ran: {ran:?}");
    assert!(ran.iter().any(|b| b == "builtin"), "ran: {ran:?}");
    drop(d);
    // oci picks crun first; runc gets its own round when installed.
    let runc = ["/usr/sbin/runc", "/usr/bin/runc"]
        .iter()
        .any(|p| Path::new(p).exists());
    if runc
        && only
            .as_deref()
            .is_none_or(|o| o.split(',').any(|b| b == "runc"))
    {
        let d = RealDaemon::start(&[("BERTH_OCI__RUNTIME", "runc")])?;
        round(&d, "oci", "csrunc")?;
    }
    Ok(())
}

/// Each host CPU with how many guests' cpusets (every guest on this host, other daemons'
/// too, but not `except`) hold it.
fn loads(except: &str) -> Result<Vec<(u32, usize)>, Error> {
    let root = ["/sys/fs/cgroup/cpuset", "/sys/fs/cgroup"]
        .iter()
        .map(PathBuf::from)
        .find(|r| r.join("berth").is_dir())
        .ok_or("no /berth cpuset")?;
    let cpus = |text: &str| -> Vec<u32> {
        let mut out = Vec::new();
        for part in text.trim().split(',').filter(|p| !p.is_empty()) {
            match part.split_once('-') {
                Some((a, b)) => {
                    out.extend(a.parse::<u32>().unwrap_or(0)..=b.parse::<u32>().unwrap_or(0))
                }
                None => out.extend(part.parse::<u32>().ok()),
            }
        }
        out
    };
    let mut sets = Vec::new();
    for entry in std::fs::read_dir(root.join("berth"))?.flatten() {
        if entry.file_name().to_string_lossy() != except && entry.path().is_dir() {
            let text =
                std::fs::read_to_string(entry.path().join("cpuset.cpus")).unwrap_or_default();
            sets.push(cpus(&text));
        }
    }
    let host = (0..host_cpus()? as u32).collect::<Vec<_>>();
    Ok(host
        .into_iter()
        .map(|c| (c, sets.iter().filter(|s| s.contains(&c)).count()))
        .collect())
}

#[test]
fn one_cpu_guests_spread_over_the_host() -> Result<(), Error> {
    let _alone = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    if host_cpus()? < 2 {
        eprintln!("skipped: needs 2 CPUs");
        return Ok(());
    }
    let d = RealDaemon::start(&[])?;
    d.ensure_image()?;
    let (a, b) = (d.name("spa"), d.name("spb"));
    let mut sets = Vec::new();
    for n in [&a, &b] {
        d.ok(&[
            "launch",
            "debian/12",
            n,
            "--backend",
            "builtin",
            "--cpu",
            "1",
            "--memory",
            "256MiB",
        ])?;
        // Its CPU was one of the least loaded by the other guests (this host may run guests
        // of other tests too, so the count is read, not assumed).
        let set = host_cpuset(n)?;
        let cpu: u32 = set.parse().map_err(|_| format!("{n}: cpuset {set:?}"))?;
        let loads = loads(n)?;
        let least = loads.iter().map(|(_, l)| *l).min().unwrap_or(0);
        let mine = loads
            .iter()
            .find(|(c, _)| *c == cpu)
            .map_or(usize::MAX, |(_, l)| *l);
        assert_eq!(mine, least, "{n} on CPU {cpu}, loads {loads:?}");
        let (nproc, processors) = guest_view(&d, n)?;
        assert_eq!(nproc, "1", "{n} on CPU {cpu}");
        if lxcfs_installed() {
            assert_eq!(processors, 1, "{n}: /proc/cpuinfo on CPU {cpu}");
        }
        sets.push(set);
    }
    eprintln!("1-CPU guests on {sets:?}");
    if loads(&a)?.iter().all(|(_, l)| *l <= 1) {
        assert_ne!(
            sets[0], sets[1],
            "two 1-CPU guests on an idle host share a CPU"
        );
    }
    for n in [&a, &b] {
        d.ok(&["delete", "--force", n])?;
    }
    Ok(())
}
