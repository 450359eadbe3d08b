//! No silent deaths, for real (root, builtin backend, debian/12): a guest whose init is
//! killed from the host (kill -9) is reported not running, with the reason, within 5 s, and
//! an operation berthd asked for (a stop) is no death. The daemon, its guest and everything
//! they made are removed even when the test fails (RealDaemon's drop).

#[path = "common/real.rs"]
mod real;

use std::time::{Duration, Instant};

use real::{Error, RealDaemon};

/// Reports are expected within this long of the kill (the bar; the machine is loaded).
const REPORTED_WITHIN: Duration = Duration::from_secs(5);

#[test]
fn a_guest_whose_init_is_killed_is_reported_with_the_reason() -> Result<(), Error> {
    let d = RealDaemon::start(&[])?;
    d.ensure_image()?;
    let name = d.name("dies");
    d.ok(&["launch", "debian/12", &name])?;
    let info = d.json(&["info", &name])?;
    assert_eq!(info["state"], "running", "{info}");
    let pid = info["pid"].as_i64().ok_or("no pid")? as i32;
    // Let systemd get past its early boot, as a user's guest would be.
    std::thread::sleep(Duration::from_secs(3));

    let killed = Instant::now();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGKILL,
    )?;
    let mut last = serde_json::Value::Null;
    let mut reported = None;
    while killed.elapsed() < Duration::from_secs(30) {
        last = d.json(&["info", &name])?;
        if last["state"] != "running" && last["state_reason"].is_string() {
            reported = Some(killed.elapsed());
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let took = reported.ok_or(format!("never reported with a reason: {last}"))?;
    eprintln!("reported after {took:?}: {last}");
    assert_eq!(last["state"], "error", "killed is not a clean exit: {last}");
    let reason = last["state_reason"].as_str().unwrap_or_default();
    assert!(reason.contains("SIGKILL"), "{reason}");
    assert!(
        took <= REPORTED_WITHIN,
        "reported after {took:?}, later than {REPORTED_WITHIN:?}"
    );
    let log = d.log();
    assert!(
        log.contains("guest ended by itself"),
        "no warning in the log"
    );

    // Started again, the reason goes; stopped by berthd, no reason comes.
    d.ok(&["start", &name])?;
    let info = d.json(&["info", &name])?;
    assert_eq!(info["state"], "running", "{info}");
    assert!(info["state_reason"].is_null(), "{info}");
    d.ok(&["stop", "--force", &name])?;
    std::thread::sleep(Duration::from_secs(1));
    let info = d.json(&["info", &name])?;
    assert_eq!(info["state"], "stopped", "{info}");
    assert!(
        info["state_reason"].is_null(),
        "a stop asked for is no death: {info}"
    );
    d.ok(&["delete", "--force", &name])?;
    Ok(())
}
