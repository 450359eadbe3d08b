//! The oci backend's runtime as a property of each instance: one berthd whose two routing rules
//! put one guest under crun and one under runc, both running at once, each proven by the tool
//! itself (`crun|runc --root … state NAME`) and by the live process tree (the runtime process
//! that is init's nearest ancestor), not by the stored field alone. The choice survives a
//! berthd restart with another `[oci] runtime`; `--runtime` on the CLI wins over a rule; a
//! runtime on a backend without a choice is refused. Run as root with crun and runc installed
//! (scripts/setup.sh installs both).

#[path = "common/real.rs"]
mod real;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use real::{Error, RealDaemon, host_traces};

/// How long systemd in a guest may take to finish booting (a loaded host is slow).
const BOOT: Duration = Duration::from_secs(300);

const TOOLS: [&str; 2] = ["crun", "runc"];

/// Where the oci backend's tools keep their state (`--root`).
fn engine_root(d: &RealDaemon) -> std::path::PathBuf {
    d.runtime_dir.join("oci").join("youki")
}

/// `TOOL --root ROOT state NAME`, parsed; `None` when the tool does not know the container.
fn tool_state(d: &RealDaemon, tool: &str, name: &str) -> Result<Option<serde_json::Value>, Error> {
    let out = Command::new(tool)
        .arg("--root")
        .arg(engine_root(d))
        .args(["state", name])
        .output()?;
    if !out.status.success() {
        return Ok(None);
    }
    Ok(Some(serde_json::from_slice(&out.stdout)?))
}

fn argv(pid: i64) -> Vec<String> {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .unwrap_or_default()
        .split(|b| *b == 0)
        .filter(|a| !a.is_empty())
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect()
}

fn parent(pid: i64) -> Option<i64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("PPid:"))
        .and_then(|p| p.trim().parse().ok())
}

/// The OCI runtime among init's ancestors, nearest first: the program name of the first
/// ancestor whose argv[0] is crun or runc, with its argv.
fn runtime_ancestor(init: i64) -> Option<(String, Vec<String>)> {
    let mut pid = init;
    for _ in 0..8 {
        pid = parent(pid).filter(|p| *p > 1)?;
        let argv = argv(pid);
        let program = argv
            .first()
            .and_then(|a| Path::new(a).file_name())
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_default();
        if TOOLS.contains(&program.as_str()) {
            return Some((program, argv));
        }
    }
    None
}

/// `name` runs under `tool` and not the other one: its info says so, the tool's own state
/// has it running with the guest's init pid, the other tool does not know it, and the
/// runtime process above init is `tool run … NAME`.
fn assert_runs_under(d: &RealDaemon, name: &str, tool: &str) -> Result<(), Error> {
    let info = d.json(&["info", name])?;
    assert_eq!(info["backend"], "oci", "{name}: {info}");
    assert_eq!(info["runtime"], tool, "{name}: stored runtime");
    assert_eq!(info["state"], "running", "{name}");
    let pid = info["pid"].as_i64().ok_or("no pid while running")?;
    let state = tool_state(d, tool, name)?
        .ok_or_else(|| format!("{tool} state {name}: {tool} does not know the guest"))?;
    assert_eq!(state["status"], "running", "{tool} state {name}: {state}");
    assert_eq!(
        state["pid"].as_i64(),
        Some(pid),
        "{tool} state {name}: {state}"
    );
    for other in TOOLS.iter().filter(|t| **t != tool) {
        assert!(
            tool_state(d, other, name)?.is_none(),
            "{other} knows {name}, which should run under {tool}"
        );
    }
    let (program, argv) =
        runtime_ancestor(pid).ok_or_else(|| format!("{name}: no crun/runc above init {pid}"))?;
    assert_eq!(
        program, tool,
        "{name}: the runtime process above init: {argv:?}"
    );
    assert!(
        argv.iter().any(|a| a == "run") && argv.last().is_some_and(|a| a == name),
        "{name}: {argv:?}"
    );
    Ok(())
}

fn installed(tool: &str) -> bool {
    ["/usr/bin", "/usr/sbin", "/usr/local/bin", "/usr/local/sbin"]
        .iter()
        .any(|d| Path::new(d).join(tool).exists())
}

#[test]
fn per_rule_runtime_choice_runs_crun_and_runc_side_by_side() -> Result<(), Error> {
    for tool in TOOLS {
        if !installed(tool) {
            return Err(format!("{tool} is not installed: run scripts/setup.sh").into());
        }
    }
    let mut d = RealDaemon::start(&[
        (
            "BERTH_ROUTING",
            r#"[{pattern = "*-cr-*", backend = "oci", runtime = "crun"},
                {pattern = "*-rc-*", backend = "oci", runtime = "runc"}]"#,
        ),
        ("BERTH_OCI__RUNTIME", "crun"),
    ])?;
    d.ensure_image()?;
    let on_crun = d.name("cr-a");
    let on_runc = d.name("rc-a");
    for name in [&on_crun, &on_runc] {
        d.ok(&["launch", "debian/12", name, "--memory", "256MiB"])?;
    }
    for name in [&on_crun, &on_runc] {
        d.wait_booted(name, BOOT)?;
    }
    // Both at once, each under its own tool.
    assert_runs_under(&d, &on_crun, "crun")?;
    assert_runs_under(&d, &on_runc, "runc")?;
    for name in [&on_crun, &on_runc] {
        let (_, comm) = d.exec(name, &["cat", "/proc/1/comm"])?;
        assert_eq!(comm.trim(), "systemd", "{name}");
    }

    // The CLI's --runtime wins over the rule; a backend without a choice refuses one.
    let overridden = d.name("cr-b");
    d.ok(&[
        "launch",
        "debian/12",
        &overridden,
        "--no-start",
        "--runtime",
        "runc",
    ])?;
    assert_eq!(d.json(&["info", &overridden])?["runtime"], "runc");
    let bad = d.berth(&[
        "launch",
        "debian/12",
        &d.name("bad"),
        "--backend",
        "builtin",
        "--runtime",
        "crun",
    ])?;
    assert!(!bad.status.success());
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("runtime"), "{stderr}");
    let plain = d.name("plain");
    d.ok(&["launch", "debian/12", &plain, "--no-start"])?;
    assert!(
        d.json(&["info", &plain])?.get("runtime").is_none(),
        "builtin has no runtime"
    );

    // A restarted berthd without the rules and with the other default keeps each guest's own
    // tool: stop and start go through the stored choice.
    for (name, tool, default) in [(&on_crun, "crun", "runc"), (&on_runc, "runc", "crun")] {
        d.kill9()?;
        d.spawn(&[("BERTH_OCI__RUNTIME", default)])?;
        assert_runs_under(&d, name, tool)?;
        d.ok(&["stop", name])?;
        assert_eq!(d.json(&["info", name])?["state"], "stopped");
        assert!(
            tool_state(&d, tool, name)?.is_none(),
            "{tool} still has {name}"
        );
        d.ok(&["start", name])?;
        d.wait_booted(name, BOOT)?;
        assert_runs_under(&d, name, tool)?;
        let (code, _) = d.exec(name, &["true"])?;
        assert_eq!(code, 0, "{name}: exec after the restart");
    }
    // Still side by side.
    assert_runs_under(&d, &on_crun, "crun")?;
    assert_runs_under(&d, &on_runc, "runc")?;

    for name in [&on_crun, &on_runc, &overridden, &plain] {
        d.ok(&["delete", "--force", name])?;
        assert_eq!(
            host_traces(name),
            Vec::<String>::new(),
            "{name}: traces left"
        );
        assert!(
            !engine_root(&d).join(name.as_str()).exists(),
            "{name}: tool state left"
        );
    }
    Ok(())
}
