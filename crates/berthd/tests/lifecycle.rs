//! End-to-end tests with real containers: the berthd binary, the berth CLI, the builtin runtime,
//! a real Debian 12 image. Run as root (CI is root).

#[path = "common/real.rs"]
mod real;

use std::time::{Duration, Instant};

use real::{Error, RealDaemon, host_traces};

/// How long systemd in a guest may take to finish booting (a loaded host is slow).
const BOOT: Duration = Duration::from_secs(90);

fn wait_until(
    what: &str,
    timeout: Duration,
    mut check: impl FnMut() -> Result<bool, Error>,
) -> Result<(), Error> {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if check()? {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    Err(format!("timed out waiting for {what}").into())
}

#[test]
fn launch_use_and_delete_leaves_nothing() -> Result<(), Error> {
    let d = RealDaemon::start(&[])?;
    // Guest trees hold setuid-root programs: only root may reach them.
    for dir in [d.data_dir.clone(), real::image_cache()] {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&dir)?.permissions().mode() & 0o777;
        assert_eq!(mode, 0o700, "{} is {mode:o}", dir.display());
    }
    d.ensure_image()?;
    let name = d.name("web1");
    d.ok(&[
        "launch",
        "debian/12",
        &name,
        "--cpu",
        "1",
        "--memory",
        "512MiB",
        "--disk",
        "4GiB",
        "--processes",
        "512",
    ])?;
    d.wait_booted(&name, BOOT)?;

    let (_, comm) = d.exec(&name, &["cat", "/proc/1/comm"])?;
    assert_eq!(comm.trim(), "systemd");
    let (_, hostname) = d.exec(&name, &["hostname"])?;
    assert_eq!(hostname.trim(), name);
    let (code, _) = d.exec(&name, &["sh", "-c", "exit 7"])?;
    assert_eq!(code, 7, "exit codes propagate through berth exec");

    let info = d.json(&["info", &name])?;
    assert_eq!(info["state"], "running");
    assert_eq!(info["limits"]["memory"], 512u64 << 20);
    assert_eq!(info["image"], "debian/12");
    let list = d.json(&["list"])?;
    assert!(
        list.as_array()
            .is_some_and(|l| l.iter().any(|i| i["name"] == name.as_str()))
    );

    d.ok(&["stop", &name])?;
    assert_eq!(d.json(&["info", &name])?["state"], "stopped");
    d.ok(&["start", &name])?;
    d.wait_booted(&name, BOOT)?;
    d.ok(&["suspend", &name])?;
    assert_eq!(d.json(&["info", &name])?["state"], "suspended");
    d.ok(&["resume", &name])?;
    assert_eq!(d.json(&["info", &name])?["state"], "running");
    d.ok(&["restart", &name])?;
    d.wait_booted(&name, BOOT)?;

    d.ok(&["delete", "--force", &name])?;
    let out = d.berth(&["info", &name])?;
    assert!(!out.status.success(), "deleted instance still answers");
    assert_eq!(
        host_traces(&name),
        Vec::<String>::new(),
        "traces left on the host"
    );
    assert!(!d.data_dir.join("instances").join(&name).exists());
    let rootfs_left = walk_names(&d.data_dir.join("storage"), &name);
    assert!(rootfs_left.is_empty(), "rootfs left: {rootfs_left:?}");
    Ok(())
}

fn walk_names(dir: &std::path::Path, name: &str) -> Vec<String> {
    let mut found = Vec::new();
    for depth1 in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        if depth1.file_name().to_string_lossy() == name {
            found.push(depth1.path().display().to_string());
        }
        for depth2 in std::fs::read_dir(depth1.path())
            .into_iter()
            .flatten()
            .flatten()
        {
            for entry in std::fs::read_dir(depth2.path())
                .into_iter()
                .flatten()
                .flatten()
            {
                if entry.file_name().to_string_lossy() == name {
                    found.push(entry.path().display().to_string());
                }
            }
            if depth2.file_name().to_string_lossy() == name {
                found.push(depth2.path().display().to_string());
            }
        }
    }
    found
}

#[test]
fn run_is_ephemeral() -> Result<(), Error> {
    let d = RealDaemon::start(&[])?;
    d.ensure_image()?;
    let out = d.ok(&["run", "debian/12", "--", "cat", "/etc/os-release"])?;
    assert!(out.contains("bookworm"), "{out}");
    assert_eq!(
        d.json(&["list"])?,
        serde_json::json!([]),
        "run left its instance"
    );
    Ok(())
}

#[test]
fn limits_are_enforced_inside() -> Result<(), Error> {
    let d = RealDaemon::start(&[])?;
    d.ensure_image()?;
    let name = d.name("lim");
    d.ok(&[
        "launch",
        "debian/12",
        &name,
        "--cpu",
        "0.5",
        "--memory",
        "256MiB",
        "--processes",
        "200",
        "--disk",
        "1GiB",
    ])?;
    d.wait_booted(&name, BOOT)?;
    // cpu: half a core of quota per period, visible inside.
    let (_, quota) = d.exec(&name, &["sh", "-c", "cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us 2>/dev/null || cut -d' ' -f1 /sys/fs/cgroup/cpu.max"])?;
    assert_eq!(quota.trim(), "50000");
    // memory: a hog is OOM-killed inside; the guest lives on.
    let (code, _) = d.exec(
        &name,
        &["sh", "-c", "head -c 600M /dev/zero | tail > /dev/null"],
    )?;
    assert_ne!(code, 0, "a 600M hog under a 256M limit should die");
    assert_eq!(d.json(&["info", &name])?["state"], "running");
    let (_, comm) = d.exec(&name, &["cat", "/proc/1/comm"])?;
    assert_eq!(comm.trim(), "systemd", "OOM stayed inside the guest");
    // processes: a bomb stops at the limit (bounded by timeout).
    let (_, out) = d.exec(
        &name,
        &[
            "sh",
            "-c",
            "for i in $(seq 400); do sleep 5 & done 2>&1 | grep -c 'fork\\|Resource' ; true",
        ],
    )?;
    assert!(
        out.trim().parse::<u32>().unwrap_or(0) > 0,
        "forks should fail past 200 processes: {out:?}"
    );
    // disk: writing past the limit fails.
    let (code, _) = d.exec(
        &name,
        &[
            "sh",
            "-c",
            "dd if=/dev/zero of=/root/fill bs=1M count=1500 2>/dev/null",
        ],
    )?;
    assert_ne!(code, 0, "writing 1.5G into a 1G disk should fail");
    d.exec(&name, &["rm", "-f", "/root/fill"])?;
    Ok(())
}

#[test]
fn instances_survive_berthd_kill9_and_are_found_again() -> Result<(), Error> {
    let mut d = RealDaemon::start(&[])?;
    d.ensure_image()?;
    let a = d.name("a");
    let b = d.name("b");
    d.ok(&["launch", "debian/12", &a, "--memory", "256MiB"])?;
    d.ok(&["launch", "debian/12", &b, "--memory", "256MiB"])?;
    let pid = d.json(&["info", &a])?["pid"].as_i64().ok_or("no pid")?;
    d.ok(&["suspend", &b])?;
    d.kill9()?;
    assert!(
        std::path::Path::new(&format!("/proc/{pid}")).exists(),
        "guest died with berthd"
    );
    d.spawn(&[])?;
    let info = d.json(&["info", &a])?;
    assert_eq!(info["state"], "running");
    assert_eq!(
        info["pid"].as_i64(),
        Some(pid),
        "the same guest was found again"
    );
    assert_eq!(d.json(&["info", &b])?["state"], "suspended");
    d.wait_booted(&a, BOOT)?;
    d.ok(&["resume", &b])?;
    d.ok(&["stop", &b])?;
    assert_eq!(d.json(&["info", &b])?["state"], "stopped");
    Ok(())
}

#[test]
fn kill9_mid_create_at_every_step_leaves_nothing() -> Result<(), Error> {
    let probe = RealDaemon::start(&[])?;
    probe.ensure_image()?;
    drop(probe);
    for step in ["reserve", "image", "clone", "configure", "start"] {
        let point = format!("instance_create.{step}=pause");
        let mut d = RealDaemon::start(&[("BERTH_FAILPOINTS", point.as_str())])?;
        let name = d.name(step);
        let socket = d.socket();
        let mut launch = std::process::Command::new(real::berth_bin())
            .args([
                "--socket",
                &socket.display().to_string(),
                "--quiet",
                "launch",
                "debian/12",
                &name,
                "--memory",
                "256MiB",
            ])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()?;
        let mut op_id = String::new();
        wait_until(
            &format!("step {step} to run"),
            Duration::from_secs(60),
            || {
                let ops = d.json(&["operation", "list"])?;
                let op = ops
                    .as_array()
                    .and_then(|ops| ops.iter().find(|o| o["target"] == name.as_str()).cloned());
                Ok(match op {
                    Some(op) => {
                        op_id = op["id"].as_str().unwrap_or_default().to_owned();
                        let shown = d.json(&["operation", "show", &op_id])?;
                        shown["steps"]
                            .as_array()
                            .into_iter()
                            .flatten()
                            .any(|s| s["name"] == step && s["status"] == "running")
                    }
                    None => false,
                })
            },
        )?;
        // Give the paused step its moment, then crash the daemon.
        std::thread::sleep(Duration::from_millis(300));
        d.kill9()?;
        let _ = launch.kill();
        let _ = launch.wait();
        d.spawn(&[])?;
        let op = d.json(&["operation", "show", &op_id])?;
        assert_eq!(op["status"], "failure", "step {step}: {op}");
        assert!(
            op["error"]
                .as_str()
                .is_some_and(|e| e.contains("interrupted") && e.contains(step)),
            "step {step}: {op}"
        );
        assert!(
            !d.berth(&["info", &name])?.status.success(),
            "step {step}: the instance is still there"
        );
        assert_eq!(
            host_traces(&name),
            Vec::<String>::new(),
            "step {step}: traces left"
        );
        assert!(
            !d.data_dir.join("instances").join(&name).exists(),
            "step {step}: instance dir left"
        );
        assert!(
            walk_names(&d.data_dir.join("storage"), &name).is_empty(),
            "step {step}: rootfs left"
        );
    }
    Ok(())
}

#[test]
fn bad_input_is_refused_by_the_cli_with_one_line() -> Result<(), Error> {
    let d = RealDaemon::start(&[])?;
    for args in [
        vec!["launch", "debian/12", "--", "-abc"],
        vec!["launch", "debian/12", "abc-"],
        vec!["launch", "debian/12", "1234"],
        vec!["launch", "debian/12", "foo.bar"],
        vec!["launch", "debian/12", "a_b_c"],
        vec!["launch", "debian/12", "../x"],
        vec!["launch", "debian/99", "okname"],
        vec!["launch", "debian/12", "okname", "--memory", "0"],
    ] {
        let out = d.berth(&args)?;
        assert!(!out.status.success(), "{args:?} succeeded");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(stderr.trim().lines().count(), 1, "{args:?}: {stderr}");
    }
    let long = "a".repeat(64);
    assert!(!d.berth(&["launch", "debian/12", &long])?.status.success());
    assert_eq!(d.json(&["list"])?, serde_json::json!([]));
    Ok(())
}

/// Root's hash in the guest's /etc/shadow.
fn root_hash(d: &RealDaemon, name: &str) -> Result<String, Error> {
    let (_, shadow) = d.exec(name, &["cat", "/etc/shadow"])?;
    let line = shadow
        .lines()
        .find(|l| l.starts_with("root:"))
        .ok_or("no root in /etc/shadow")?;
    Ok(line.split(':').nth(1).unwrap_or_default().to_owned())
}

#[test]
fn root_password_and_keys_are_set_hashed_and_changeable() -> Result<(), Error> {
    let d = RealDaemon::start(&[])?;
    d.ensure_image()?;
    let keydir = tempfile::tempdir()?;
    let keyfile = keydir.path().join("id.pub");
    let key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGbl8f6yP2N1PRxGx2D9rG3m0Yb3dO8bS4w3E6iSx0rN test@berth";
    std::fs::write(&keyfile, format!("{key}\n"))?;
    let (a, b) = (d.name("pw"), d.name("keys"));
    let first = "S3cure!pass";
    d.ok(&[
        "launch",
        "debian/12",
        &a,
        "--memory",
        "256MiB",
        "--password",
        first,
    ])?;
    d.ok(&[
        "launch",
        "debian/12",
        &b,
        "--memory",
        "256MiB",
        "--ssh-key",
        &keyfile.display().to_string(),
    ])?;

    let hash = root_hash(&d, &a)?;
    assert!(
        hash.starts_with("$6$"),
        "sha512-crypt hash expected: {hash}"
    );
    assert!(
        sha_crypt::sha512_check(first, &hash).is_ok(),
        "the hash does not match the password"
    );
    let (_, policy) = d.exec(&a, &["cat", "/etc/ssh/sshd_config.d/berth.conf"])?;
    assert!(policy.contains("PermitRootLogin yes"), "{policy}");
    let (_, keys) = d.exec(&b, &["cat", "/root/.ssh/authorized_keys"])?;
    assert_eq!(keys.trim(), key);
    let (_, policy) = d.exec(&b, &["cat", "/etc/ssh/sshd_config.d/berth.conf"])?;
    assert!(
        policy.contains("PermitRootLogin prohibit-password"),
        "{policy}"
    );

    // A generated password replaces the old one.
    let out = d.json(&["password", &a, "--generate"])?;
    let generated = out["password"]
        .as_str()
        .ok_or("no password printed")?
        .to_owned();
    let hash = root_hash(&d, &a)?;
    assert!(sha_crypt::sha512_check(&generated, &hash).is_ok());
    assert!(
        sha_crypt::sha512_check(first, &hash).is_err(),
        "the old password still works"
    );

    // Host keys are made per instance at first boot, never shared from the image.
    d.wait_booted(&a, BOOT)?;
    d.wait_booted(&b, BOOT)?;
    let (_, key_a) = d.exec(&a, &["cat", "/etc/ssh/ssh_host_ed25519_key.pub"])?;
    let (_, key_b) = d.exec(&b, &["cat", "/etc/ssh/ssh_host_ed25519_key.pub"])?;
    assert!(
        key_a.starts_with("ssh-ed25519 ") && key_a != key_b,
        "host keys: {key_a:?} / {key_b:?}"
    );
    let (_, sshd) = d.exec(&a, &["systemctl", "is-active", "ssh"])?;
    assert_eq!(sshd.trim(), "active");

    let log = d.log();
    assert!(
        !log.contains(first) && !log.contains(&generated),
        "a password reached the log"
    );
    Ok(())
}
