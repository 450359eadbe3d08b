//! A guest that powers itself off (real container, builtin runtime): berthd notices at its
//! next metrics tick, without anyone reading the instance, records it as stopped and tells
//! event subscribers (actor `berthd`); while it ran, `started_at` said since when.

#[path = "common/real.rs"]
mod real;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use real::{Error, RealDaemon, berth_bin};
use serde_json::Value;

#[test]
fn a_guest_that_powers_off_is_published_as_stopped() -> Result<(), Error> {
    let d = RealDaemon::start(&[("BERTH_METRICS__INTERVAL", "2s")])?;
    d.ensure_image()?;
    let name = d.name("off");
    d.ok(&["launch", "debian/12", &name, "--memory", "256MiB"])?;
    let info = d.json(&["info", &name])?;
    let started = info["started_at"]
        .as_str()
        .ok_or(format!("no started_at: {info}"))?;
    let started = chrono::DateTime::parse_from_rfc3339(started)?;
    let age = chrono::Utc::now().signed_duration_since(started);
    assert!(
        (0..120).contains(&age.num_seconds()),
        "started {age} ago: {info}"
    );

    let mut events = Command::new(berth_bin())
        .arg("--socket")
        .arg(d.socket())
        .args(["events", "--types", "lifecycle", "--format", "json"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()?;
    let stdout = events.stdout.take().ok_or("no stdout")?;
    let (tx, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    // systemd must be up to take a poweroff; the exec may end with the guest.
    for _ in 0..300 {
        let (_, out) = d.exec(&name, &["systemctl", "is-system-running"])?;
        if matches!(out.trim(), "running" | "degraded") {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let _ = d.berth(&["exec", &name, "--", "systemctl", "poweroff"]);
    let stopped = loop {
        let line = lines
            .recv_timeout(Duration::from_secs(60))
            .map_err(|_| "no instance-stopped event within 60 s of the poweroff")?;
        let event: Value = serde_json::from_str(&line)?;
        if event["data"]["action"] == "instance-stopped" {
            break event;
        }
    };
    let _ = events.kill();
    let _ = events.wait();
    assert_eq!(stopped["instance"], name.as_str(), "{stopped}");
    assert_eq!(stopped["data"]["actor"], "berthd", "{stopped}");
    assert_eq!(stopped["data"]["state"], "stopped", "{stopped}");
    let info = d.json(&["info", &name])?;
    assert_eq!(info["state"], "stopped");
    assert!(info.get("started_at").is_none(), "{info}");
    d.ok(&["delete", "--force", &name])?;
    Ok(())
}
