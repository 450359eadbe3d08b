//! The CLI against a real berthd process (guests on the sim backend, so no image is needed):
//! `berth events` prints the events of a launch as they happen, `berth settings set` changes
//! defaults that a later `berth launch` gets, and `berth system` shows the host.

#[path = "common/real.rs"]
mod real;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use real::{Error, RealDaemon, berth_bin};
use serde_json::Value;

const SIM: &[(&str, &str)] = &[
    ("BERTH_TESTING__SIM_BACKEND", "true"),
    ("BERTH_SECURITY__LXCFS", "false"),
    ("BERTH_DEFAULT_BACKEND", "sim"),
];

/// A `berth events …` process, killed when dropped, and the lines it prints.
struct Follower {
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl Follower {
    fn start(d: &RealDaemon, args: &[&str]) -> Result<Self, Error> {
        let mut child = Command::new(berth_bin())
            .arg("--socket")
            .arg(d.socket())
            .arg("events")
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()?;
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Ok(Self { child, lines })
    }

    /// Lines until one contains `want`; all of them.
    fn until(&self, want: &str) -> Result<Vec<String>, Error> {
        let mut seen = Vec::new();
        loop {
            let line = self
                .lines
                .recv_timeout(Duration::from_secs(30))
                .map_err(|_| format!("no line with {want:?} within 30 s; got {seen:#?}"))?;
            let done = line.contains(want);
            seen.push(line);
            if done {
                return Ok(seen);
            }
        }
    }
}

impl Drop for Follower {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Waits until both followers are subscribed, so nothing is published before they are.
fn wait_subscribed(d: &RealDaemon) -> Result<(), Error> {
    // A subscriber is registered before the handshake answers; give the CLI time to connect.
    for _ in 0..100 {
        if d.log().matches("event subscriber").count() >= 2 {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Err(format!("the followers never subscribed; log:\n{}", d.log()).into())
}

#[test]
fn events_settings_and_system_from_the_cli() -> Result<(), Error> {
    let d = RealDaemon::start(SIM)?;
    let lines = Follower::start(&d, &["--types", "lifecycle,operation"])?;
    let json = Follower::start(&d, &["--types", "lifecycle", "--format", "json"])?;
    wait_subscribed(&d)?;

    d.ok(&[
        "settings",
        "set",
        "--default-memory",
        "1GiB",
        "--default-processes",
        "300",
        "--metrics-interval",
        "20",
    ])?;
    let name = d.name("ev");
    d.ok(&["launch", "debian/12", &name])?;

    let seen = lines.until("instance-created by admin")?;
    assert!(
        seen.iter().any(|l| l.contains("operation")
            && l.contains(&name)
            && l.contains("instance_create success 100%")),
        "{seen:#?}"
    );
    let seen = json.until("instance-created")?;
    let event: Value = serde_json::from_str(seen.last().ok_or("no line")?)?;
    assert_eq!(event["type"], "lifecycle");
    assert_eq!(event["instance"], name.as_str());
    assert_eq!(event["owner"], "admin");
    assert_eq!(event["data"]["state"], "running");

    // The defaults reached the launch that gave none.
    let info = d.json(&["info", &name])?;
    assert_eq!(info["limits"]["memory"], 1u64 << 30, "{info}");
    assert_eq!(info["limits"]["processes"], 300, "{info}");
    let settings = d.json(&["settings"])?;
    assert_eq!(settings["metrics"]["interval_seconds"], 20);
    let shown = d.ok(&["settings"])?;
    assert!(shown.contains("Memory:     1GiB"), "{shown}");
    let bad = d.berth(&["settings", "set", "--default-memory", "1KiB"])?;
    assert!(!bad.status.success());
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("defaults.memory"),
        "{}",
        String::from_utf8_lossy(&bad.stderr)
    );

    let system = d.ok(&["system"])?;
    for want in [
        "CPU:",
        "available",
        "Uptime:",
        "btrfs      yes",
        "nftables",
        "Backends:",
    ] {
        assert!(system.contains(want), "{want:?} missing from:\n{system}");
    }
    d.ok(&["delete", "--force", &name])?;
    lines.until("instance-deleted by admin")?;
    Ok(())
}

/// `berth create` makes an instance without starting it; `berth list` narrows by a name glob,
/// state and backend, and prints the columns asked for (unknown ones refused, naming the choices).
#[test]
fn create_and_list_filters_from_the_cli() -> Result<(), Error> {
    let d = RealDaemon::start(SIM)?;
    let (web, db) = (d.name("web-1"), d.name("db-1"));
    d.ok(&["create", "debian/12", &web])?;
    d.ok(&["launch", "debian/12", &db])?;
    assert_eq!(d.json(&["info", &web])?["state"], "stopped");

    let names = |args: &[&str]| -> Result<Vec<String>, Error> {
        let mut all = vec!["list"];
        all.extend(args);
        let listed = d.json(&all)?;
        Ok(listed
            .as_array()
            .ok_or("list is not an array")?
            .iter()
            .filter_map(|i| i["name"].as_str().map(str::to_owned))
            .collect())
    };
    assert_eq!(names(&["--state", "stopped"])?, vec![web.clone()]);
    assert_eq!(names(&["--state", "running"])?, vec![db.clone()]);
    let glob = format!("{}-web-*", &web[..web.len() - "-web-1".len()]);
    assert_eq!(names(&[&glob])?, vec![web.clone()]);
    // A backend this berthd does not have is named, with the ones it has.
    let unknown = d.berth(&["list", "--backend", "nosuch"])?;
    let said = String::from_utf8_lossy(&unknown.stderr);
    assert!(!unknown.status.success(), "{said}");
    assert!(
        said.contains("nosuch") && said.contains("builtin"),
        "{said}"
    );
    assert_eq!(names(&["--owner", "admin"])?.len(), 2);

    let table = d.ok(&["list", "--columns", "name,owner,state"])?;
    let header = table.lines().next().unwrap_or_default();
    assert!(
        header.starts_with("NAME") && header.contains("OWNER") && !header.contains("IPV4"),
        "{table}"
    );
    let bad = d.berth(&["list", "--columns", "name,colour"])?;
    assert!(!bad.status.success());
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(err.contains("--columns") && err.contains("colour"), "{err}");

    d.ok(&["delete", "--force", &web])?;
    d.ok(&["delete", "--force", &db])?;
    Ok(())
}
