//! Start and stop at the edges of a guest's boot, for real (root, builtin backend, debian/12,
//! through the berth CLI and the API):
//! - a stop sent right after a start finishes promptly (the halt signal is sent again until
//!   systemd has its handler), not after the 30 s shutdown timeout, and leaves it stopped;
//! - a guest whose init exits at once fails its start with the reason (exit status, console
//!   lines), non-zero, and is left stopped — no "running" that silently is not.
//!
//! The daemon, its guests and everything they made are removed even when a test fails
//! (RealDaemon's drop).

#[path = "common/real.rs"]
mod real;

use std::time::{Duration, Instant};

use real::{Error, RealDaemon};

/// Far below the 30 s timeout a lost halt signal waits out; far above a prompt stop on a
/// loaded machine. Not a performance bar: it tells "heard" from "timed out".
const WELL_UNDER_TIMEOUT: Duration = Duration::from_secs(10);

/// Starts then at once stops `name` `rounds` times; the time each start and stop took.
fn start_then_stop(d: &RealDaemon, name: &str, rounds: usize) -> Result<Vec<Timing>, Error> {
    let mut took = Vec::new();
    for round in 0..rounds {
        let began = Instant::now();
        d.ok(&["start", name])?;
        let start = began.elapsed();
        let began = Instant::now();
        d.ok(&["stop", name])?;
        let stop = began.elapsed();
        let info = d.json(&["info", name])?;
        assert_eq!(info["state"], "stopped", "round {round}: {info}");
        assert!(
            info["state_reason"].is_null(),
            "round {round}: a stop asked for is no death: {info}"
        );
        assert!(
            stop < WELL_UNDER_TIMEOUT,
            "round {round}: the stop took {stop:?}: the halt signal went unheard until the timeout"
        );
        took.push(Timing { start, stop });
    }
    Ok(took)
}

/// How long one start and the stop right after it took (reported, not asserted on).
#[derive(Debug)]
#[allow(dead_code, reason = "read through Debug in the test's output")]
struct Timing {
    start: Duration,
    stop: Duration,
}

/// Prints how many halt requests each stop sent (the runtime logs it) and, when a round
/// failed, the guest's last console lines; passes `took` on.
fn report(
    d: &RealDaemon,
    name: &str,
    took: Result<Vec<Timing>, Error>,
) -> Result<Vec<Timing>, Error> {
    let log = d.log();
    let lines = log
        .lines()
        .filter(|l| l.contains("guest shut down") || l.contains("shutdown timed out"));
    for line in lines {
        eprintln!("{line}");
    }
    if took.is_err() {
        let console = d
            .data_dir
            .join("instances")
            .join(name)
            .join("runtime/console.log");
        let text = std::fs::read_to_string(console).unwrap_or_default();
        let tail: Vec<&str> = text.lines().rev().take(40).collect();
        for line in tail.iter().rev() {
            eprintln!("console: {line}");
        }
    }
    took
}

#[test]
fn a_stop_right_after_a_start_is_prompt() -> Result<(), Error> {
    // boot_wait = 0: the start returns as soon as init is exec'd, the stop races systemd's
    // setting up its signal handlers, as every stop did before starts waited for early boot.
    let d = RealDaemon::start(&[("BERTH_BOOT_WAIT", "0")])?;
    d.ensure_image()?;
    let name = d.name("race");
    d.ok(&["launch", "debian/12", &name, "--no-start"])?;
    let took = report(&d, &name, start_then_stop(&d, &name, 4))?;
    eprintln!("stop right after start (boot_wait 0): {took:?}");
    d.ok(&["delete", "--force", &name])?;
    drop(d);

    // The default: the start waits for early boot, the stop comes after it.
    let d = RealDaemon::start(&[])?;
    let name = d.name("race2");
    d.ok(&["launch", "debian/12", &name, "--no-start"])?;
    let took = report(&d, &name, start_then_stop(&d, &name, 2))?;
    eprintln!("stop right after start (default boot_wait): {took:?}");
    d.ok(&["delete", "--force", &name])?;
    Ok(())
}

#[test]
fn a_guest_whose_init_exits_fails_its_start_with_the_reason() -> Result<(), Error> {
    let d = RealDaemon::start(&[])?;
    d.ensure_image()?;
    let name = d.name("noinit");
    let began = Instant::now();
    d.ok(&["launch", "debian/12", &name])?;
    eprintln!("launch to running: {:?}", began.elapsed());
    // An init that says why on the console and gives up.
    let script = "rm -f /sbin/init && printf '#!/bin/sh\\necho berth-test: init gives up\\nexit 3\\n' \
                  > /sbin/init && chmod 755 /sbin/init";
    let (code, _) = d.exec(&name, &["sh", "-c", script])?;
    assert_eq!(code, 0, "could not replace /sbin/init");
    d.ok(&["stop", &name])?;

    let began = Instant::now();
    let out = d.berth(&["start", &name])?;
    let failed_after = began.elapsed();
    let stderr = String::from_utf8_lossy(&out.stderr);
    eprintln!("start failed after {failed_after:?}: {stderr}");
    assert!(!out.status.success(), "the start succeeded: {stderr}");
    assert!(stderr.contains("init exited during early boot"), "{stderr}");
    assert!(
        stderr.contains(", 3)") || stderr.contains("status: 3"),
        "no exit status: {stderr}"
    );
    assert!(
        stderr.contains("berth-test: init gives up"),
        "no console: {stderr}"
    );
    let info = d.json(&["info", &name])?;
    assert_eq!(info["state"], "stopped", "{info}");
    assert!(info["pid"].is_null(), "{info}");
    d.ok(&["delete", "--force", &name])?;
    Ok(())
}
