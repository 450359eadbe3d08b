//! berthd's lxcfs for real (root, Debian's lxcfs): `berthd lxcfs DIR` mounts it and keeps it
//! running detached; killed, lxcfs comes back as a new instance; a second `ensure` (a
//! restarted berthd) adopts the running supervisor instead of starting another; stopping
//! leaves no process and no mount.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use berth_isolation::lxcfs::{Lxcfs, supervise};

type Error = Box<dyn std::error::Error>;

fn helper() -> Vec<std::ffi::OsString> {
    vec![env!("CARGO_BIN_EXE_berthd").into(), "lxcfs".into()]
}

fn read_pid(path: PathBuf) -> Option<i32> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

fn alive(pid: i32) -> bool {
    // SAFETY: signal 0 only checks the process exists.
    unsafe { libc::kill(pid, 0) == 0 }
}

/// Stops the supervisor when the test ends, however it ends.
struct Stopped(Lxcfs);

impl Drop for Stopped {
    fn drop(&mut self) {
        supervise::stop(&self.0);
    }
}

#[test]
fn lxcfs_is_supervised_restarted_and_adopted() -> Result<(), Error> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 || supervise::program().is_err() {
        eprintln!("skipped: needs root and lxcfs");
        return Ok(());
    }
    let dir = tempfile::tempdir()?;
    let lxcfs = Lxcfs::new(dir.path().join("lxcfs"));
    let guard = Stopped(lxcfs.clone());
    let first = supervise::ensure(&lxcfs, &helper())?;
    let meminfo = std::fs::read_to_string(lxcfs.mount_point().join("proc/meminfo"))?;
    assert!(meminfo.starts_with("MemTotal:"), "{meminfo}");
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(lxcfs.dir())?.permissions().mode() & 0o777;
    assert_eq!(mode, 0o711, "guests' ids must be able to reach the files");
    let binds = lxcfs.guest_binds();
    for want in [
        "/proc/meminfo",
        "/proc/uptime",
        "/sys/devices/system/cpu/online",
    ] {
        assert!(
            binds.iter().any(|b| b.target == want),
            "{want} missing: {binds:?}"
        );
    }
    let supervisor = read_pid(lxcfs.supervisor_pid_file()).ok_or("no supervisor pid")?;
    let daemon = read_pid(lxcfs.lxcfs_pid_file()).ok_or("no lxcfs pid")?;
    let rss = std::fs::read_to_string(format!("/proc/{daemon}/status"))?
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .map(str::to_owned)
        .unwrap_or_default();
    eprintln!("lxcfs {daemon}: {rss}");

    // SAFETY: kills the lxcfs this test started.
    unsafe { libc::kill(daemon, libc::SIGKILL) };
    let deadline = Instant::now() + Duration::from_secs(15);
    let second = loop {
        match lxcfs.instance() {
            Some(now) if now != first => break now,
            _ if Instant::now() > deadline => return Err("lxcfs was not restarted".into()),
            _ => std::thread::sleep(Duration::from_millis(50)),
        }
    };
    assert!(!alive(daemon));

    // A restarted berthd finds the supervisor and starts no other.
    assert_eq!(supervise::ensure(&lxcfs, &helper())?, second);
    assert_eq!(read_pid(lxcfs.supervisor_pid_file()), Some(supervisor));
    assert!(supervise::supervisor_running(&lxcfs));

    // lxcfs writes its pid file itself, a moment after it answers.
    let restarted = loop {
        match read_pid(lxcfs.lxcfs_pid_file()) {
            Some(pid) if pid != daemon => break pid,
            _ if Instant::now() > deadline => return Err("no new lxcfs pid".into()),
            _ => std::thread::sleep(Duration::from_millis(20)),
        }
    };
    drop(guard);
    assert!(!supervise::supervisor_running(&lxcfs));
    assert!(!alive(supervisor) && !alive(restarted), "processes left");
    assert_eq!(lxcfs.instance(), None);
    let mounts = std::fs::read_to_string("/proc/self/mountinfo")?;
    assert!(
        !mounts.contains(&lxcfs.mount_point().display().to_string()),
        "mount left"
    );
    Ok(())
}
