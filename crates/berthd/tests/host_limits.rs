//! `[host]` for real (root): berthd raises kernel limits through a private procfs instance
//! (the host's `/proc` may be read-only), never lowers one the host set higher, and only
//! reports when `raise_limits` is false. Values are read back through a fresh procfs instance;
//! every limit touched is put back afterwards (unless something else changed it meanwhile).

use berth_isolation::procfs::PrivateProc;
use berthd::host::sysctl::{self, Outcome, Wanted};

type Error = Box<dyn std::error::Error>;

/// Limits raised by one above their value here, so the test changes as little as it can.
const RAISED: &[&str] = &[
    "fs/inotify/max_user_instances",
    "kernel/keys/maxkeys",
    "kernel/pty/max",
    "net/ipv4/neigh/default/gc_thresh3",
];

/// Puts each limit back to its original value when dropped, if it still holds ours.
struct Restore(Vec<(String, u64, u64)>);

impl Drop for Restore {
    fn drop(&mut self) {
        let Ok(proc) = PrivateProc::new() else {
            eprintln!("cannot restore the kernel limits: no procfs");
            return;
        };
        for (path, original, ours) in &self.0 {
            if sysctl::read(&proc, path).ok().flatten() == Some(*ours) {
                let put = proc.write(&format!("sys/{path}"), &format!("{original}\n"));
                if let Err(e) = put {
                    eprintln!("cannot restore {path} to {original}: {e}");
                }
            }
        }
    }
}

#[test]
fn limits_are_raised_never_lowered_and_read_back_through_a_fresh_procfs() -> Result<(), Error> {
    if !nix::unistd::Uid::effective().is_root() {
        eprintln!("skipped: needs root");
        return Ok(());
    }
    let proc = PrivateProc::new()?;
    let mut originals = Vec::new();
    for path in RAISED {
        let value = sysctl::read(&proc, path)?.ok_or(format!("{path} absent"))?;
        originals.push((path.to_string(), value));
    }
    let _restore = Restore(
        originals
            .iter()
            .map(|(p, v)| (p.clone(), *v, v + 1))
            .collect(),
    );
    let pid_max = sysctl::read(&proc, "kernel/pid_max")?.ok_or("pid_max absent")?;
    let mut wanted: Vec<Wanted> = originals
        .iter()
        .map(|(p, v)| Wanted::new(p.clone(), format!("test.{p}"), v + 1))
        .collect();
    // Set higher by the host than wanted: left alone.
    wanted.push(Wanted::new("kernel/pid_max", "host.pid_max", pid_max - 1));
    wanted.push(Wanted::new("net/netfilter/no_such_limit", "host.x", 5).optional());

    let report = sysctl::raise(&proc, &wanted, false);
    for c in &report[..RAISED.len()] {
        assert!(matches!(c.outcome, Outcome::Low { .. }), "{c:?}");
    }
    let report = sysctl::raise(&proc, &wanted, true);
    for (c, (path, original)) in report.iter().zip(&originals) {
        assert_eq!(c.outcome, Outcome::Raised { from: *original }, "{path}");
    }
    assert_eq!(
        report[RAISED.len()].outcome,
        Outcome::Enough { current: pid_max }
    );
    assert_eq!(report[RAISED.len() + 1].outcome, Outcome::Absent);

    let fresh = PrivateProc::new()?;
    for (path, original) in &originals {
        assert_eq!(sysctl::read(&fresh, path)?, Some(original + 1), "{path}");
    }
    assert_eq!(sysctl::read(&fresh, "kernel/pid_max")?, Some(pid_max));
    Ok(())
}

#[test]
fn host_keys_load_from_the_file_and_the_environment() -> Result<(), Error> {
    let dir = tempfile::tempdir()?;
    let file = dir.path().join("berth.toml");
    std::fs::write(&file, "[host]\nraise_limits = false\npid_max = 100000\n")?;
    let env = [("BERTH_HOST__PTY_MAX".to_owned(), "0".to_owned())];
    let config = berthd::config::Config::load(Some(&file), env)?;
    assert!(!config.host.raise_limits);
    let wanted = config.host.wanted();
    assert!(wanted.iter().all(|w| w.key != "host.pty_max"));
    let pid = wanted
        .iter()
        .find(|w| w.key == "host.pid_max")
        .ok_or("pid_max")?;
    assert_eq!(pid.value, 100_000);
    std::fs::write(&file, "[host]\nno_such_key = 1\n")?;
    let err = berthd::config::Config::load(Some(&file), []).expect_err("unknown key");
    assert!(err.to_string().contains("no_such_key"), "{err}");
    Ok(())
}
