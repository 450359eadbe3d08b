//! Images through a real berthd: a debian/sid build whose operation's progress moves (at least
//! eight distinct values, from mmdebstrap's own progress), and what the image then says about
//! itself (`berth image info`: channel, packages, sources). It builds into a cache of its own,
//! so it builds for real on every run (about as long as a debian/12 build).

#[path = "common/real.rs"]
mod real;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use real::{Error, RealDaemon};

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

#[test]
fn a_sid_build_reports_progress_that_moves() -> Result<(), Error> {
    if !is_root() {
        eprintln!("skipped: needs root");
        return Ok(());
    }
    let cache = std::path::PathBuf::from("/var/tmp/berth-test-scratch")
        .join(format!("sid-cache-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&cache)?;
    let result = build_sid(&cache);
    let _ = std::fs::remove_dir_all(&cache);
    result
}

fn build_sid(cache: &std::path::Path) -> Result<(), Error> {
    // This machine's Debian mirror serves sid's index past its Valid-Until date (a frozen
    // copy); signatures are still checked.
    let cache_dir = cache.display().to_string();
    let daemon = RealDaemon::start(&[
        ("BERTH_IMAGES__CACHE_DIR", cache_dir.as_str()),
        ("BERTH_IMAGES__CHECK_VALID_UNTIL", "false"),
    ])?;
    let started = Instant::now();
    let build = {
        let socket = daemon.socket();
        std::thread::spawn(move || {
            std::process::Command::new(real::berth_bin())
                .arg("--socket")
                .arg(socket)
                .args(["--quiet", "image", "build", "debian/unstable"])
                .output()
        })
    };
    let mut seen = BTreeSet::new();
    let mut messages = BTreeSet::new();
    while !build.is_finished() && started.elapsed() < Duration::from_secs(1800) {
        if let Ok(ops) = daemon.json(&["operation", "list"]) {
            for op in ops.as_array().into_iter().flatten() {
                if op["target"] == "debian/sid" && op["status"] == "running" {
                    seen.insert(op["progress"].as_u64().unwrap_or_default());
                    messages.insert(op["message"].as_str().unwrap_or_default().to_owned());
                }
            }
        }
        std::thread::sleep(Duration::from_millis(150));
    }
    let out = build.join().map_err(|_| "build thread")??;
    assert!(
        out.status.success(),
        "build failed: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        daemon.log()
    );
    eprintln!(
        "MEASURE built debian/sid in {:.1}s; progress values seen: {seen:?}",
        started.elapsed().as_secs_f64()
    );
    for message in &messages {
        eprintln!("progress message: {message}");
    }
    assert!(seen.len() >= 8, "distinct progress values: {seen:?}");
    assert!(
        messages.iter().any(|m| m.contains("installing packages")),
        "{messages:?}"
    );

    let info = daemon.json(&["image", "info", "debian/sid"])?;
    assert_eq!(info["status"], "cached");
    assert_eq!(info["channel"], "rolling");
    assert!(
        info["packages"].as_u64().unwrap_or_default() > 100,
        "{info}"
    );
    let sources: Vec<&str> = info["sources"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s.as_str())
        .collect();
    assert_eq!(
        sources.len(),
        1,
        "sid has no -updates or -security: {sources:?}"
    );
    assert!(sources[0].ends_with(" sid main"), "{sources:?}");
    let list = daemon.json(&["image", "list"])?;
    let listed = list
        .as_array()
        .into_iter()
        .flatten()
        .find(|i| i["alias"] == "debian/sid")
        .ok_or("debian/sid listed")?;
    assert_eq!(listed["status"], "cached");

    // An unknown architecture is a 400 naming arch; nothing is built.
    let out = daemon.berth(&["image", "build", "debian/sid", "--arch", "riscv64"])?;
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("arch"),
        "{out:?}"
    );
    Ok(())
}
