//! The local backends (builtin, nspawn, oci with crun and with runc, lxc) through the same
//! CLI: one launch / exec / limits / suspend / stop / start / daemon-crash / delete round each,
//! for every backend this host can run (the rest are reported, with `GET /system`'s reason);
//! routing rules and `--backend` errors. Run as root (CI is root).

#[path = "common/real.rs"]
mod real;

use std::time::{Duration, Instant};

use real::{Error, RealDaemon, host_traces};

/// How long systemd in a guest may take to finish booting (a loaded host is slow).
const BOOT: Duration = Duration::from_secs(90);

/// `GET /system`'s backends: (name, usable, reason).
fn backends(d: &RealDaemon) -> Result<Vec<(String, bool, String)>, Error> {
    let info = d.json(&["system"])?;
    Ok(info["backends"]
        .as_array()
        .ok_or("system has no backends")?
        .iter()
        .map(|b| {
            (
                b["name"].as_str().unwrap_or_default().to_owned(),
                b["usable"].as_bool().unwrap_or(false),
                b["reason"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect())
}

/// One round on `backend`: boots systemd with the hostname, eth0 address and limits, runs
/// commands, freezes, stops and starts, survives a berthd crash, and leaves nothing.
fn round(d: &mut RealDaemon, backend: &str, label: &str) -> Result<(), Error> {
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
        "--processes",
        "300",
    ])?;
    let info = d.json(&["info", &name])?;
    assert_eq!(info["backend"], backend);
    d.wait_booted(&name, BOOT)?;
    let (_, comm) = d.exec(&name, &["cat", "/proc/1/comm"])?;
    assert_eq!(comm.trim(), "systemd", "{label}: init");
    let (_, hostname) = d.exec(&name, &["hostname"])?;
    assert_eq!(hostname.trim(), name, "{label}: hostname");
    let ipv4 = info["network"]["ipv4"]
        .as_str()
        .ok_or("no ipv4")?
        .to_owned();
    let (_, addr) = d.exec(&name, &["ip", "-4", "-o", "addr", "show", "dev", "eth0"])?;
    assert!(
        addr.contains(&format!("{ipv4}/")),
        "{label}: eth0 {addr:?}, want {ipv4}"
    );
    let (code, _) = d.exec(&name, &["ping", "-c1", "-W5", d.net.gateway4()])?;
    assert_eq!(code, 0, "{label}: the guest reaches the bridge");
    let (code, _) = d.exec(&name, &["sh", "-c", "exit 7"])?;
    assert_eq!(code, 7, "{label}: exit codes propagate");
    // exec'd commands are as confined as the guest: a seccomp filter, no more capabilities.
    let (_, status) = d.exec(&name, &["cat", "/proc/self/status"])?;
    let field = |k: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(k))
            .map(str::trim)
            .unwrap_or_default()
            .to_owned()
    };
    assert_eq!(
        field("Seccomp:"),
        "2",
        "{label}: exec without a seccomp filter"
    );
    let (_, init) = d.exec(&name, &["cat", "/proc/1/status"])?;
    let init_bnd = init
        .lines()
        .find_map(|l| l.strip_prefix("CapBnd:"))
        .map(str::trim)
        .unwrap_or_default();
    let bnd = u64::from_str_radix(&field("CapBnd:"), 16)?;
    let init_bnd = u64::from_str_radix(init_bnd, 16)?;
    assert_eq!(
        bnd & !init_bnd,
        0,
        "{label}: exec has capabilities init lacks"
    );
    let missing = d.berth(&["exec", &name, "--", "no-such-command"])?;
    assert!(
        !missing.status.success(),
        "{label}: a missing command fails"
    );
    // Limits are Berth's, in the guest's cgroup, visible inside.
    let (_, memory) = d.exec(&name, &["sh", "-c",
        "cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max"])?;
    assert_eq!(
        memory.trim(),
        (256u64 << 20).to_string(),
        "{label}: memory limit"
    );
    // cpu, read on the host: LXC does not mount a v1 cpu hierarchy mounted apart from
    // cpuacct (as on this CI host) inside the guest.
    let v1 = std::path::Path::new("/sys/fs/cgroup/cpu/berth")
        .join(&name)
        .join("cpu.cfs_quota_us");
    let quota = std::fs::read_to_string(&v1).or_else(|_| {
        std::fs::read_to_string(
            std::path::Path::new("/sys/fs/cgroup/berth")
                .join(&name)
                .join("cpu.max"),
        )
        .map(|m| m.split(' ').next().unwrap_or_default().to_owned())
    })?;
    assert_eq!(
        quota.trim(),
        "100000",
        "{label}: cpu quota in Berth's cgroup"
    );
    let (_, pids) = d.exec(
        &name,
        &[
            "sh",
            "-c",
            "cat /sys/fs/cgroup/pids/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids.max",
        ],
    )?;
    assert_eq!(pids.trim(), "300", "{label}: pids limit");
    // Live limits: `berth set` writes the guest's cgroup.
    d.ok(&["set", &name, "--memory", "300MiB"])?;
    let (_, memory) = d.exec(&name, &["sh", "-c",
        "cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max"])?;
    assert_eq!(
        memory.trim(),
        (300u64 << 20).to_string(),
        "{label}: memory after set"
    );
    d.ok(&["suspend", &name])?;
    assert_eq!(d.json(&["info", &name])?["state"], "suspended", "{label}");
    d.ok(&["resume", &name])?;
    assert_eq!(d.json(&["info", &name])?["state"], "running", "{label}");
    d.ok(&["stop", &name])?;
    assert_eq!(d.json(&["info", &name])?["state"], "stopped", "{label}");
    d.ok(&["start", &name])?;
    d.wait_booted(&name, BOOT)?;
    // The guest outlives berthd and is found again.
    let pid = d.json(&["info", &name])?["pid"].as_i64();
    d.kill9()?;
    d.spawn(&[])?;
    let info = d.json(&["info", &name])?;
    assert_eq!(info["state"], "running", "{label}: after a berthd crash");
    assert_eq!(info["pid"].as_i64(), pid, "{label}: the same guest");
    d.ok(&["delete", "--force", &name])?;
    assert!(!d.berth(&["info", &name])?.status.success());
    assert_eq!(
        host_traces(&name),
        Vec::<String>::new(),
        "{label}: traces left"
    );
    Ok(())
}

#[test]
fn every_usable_local_backend_runs_the_lifecycle() -> Result<(), Error> {
    let mut d = RealDaemon::start(&[])?;
    d.ensure_image()?;
    let mut ran = Vec::new();
    for (backend, usable, reason) in backends(&d)? {
        if backend == "proxmox" || backend == "sim" {
            continue;
        }
        if !usable {
            assert!(!reason.is_empty(), "{backend} is unusable without a reason");
            eprintln!("skipping {backend}: {reason}");
            continue;
        }
        let started = Instant::now();
        round(&mut d, &backend, &backend)?;
        eprintln!("{backend}: round in {:?}", started.elapsed());
        ran.push(backend);
    }
    assert!(ran.iter().any(|b| b == "builtin"), "ran: {ran:?}");
    drop(d);
    // oci picks crun first; runc gets its own round when installed.
    if std::path::Path::new("/usr/sbin/runc").exists()
        || std::path::Path::new("/usr/bin/runc").exists()
    {
        let mut d = RealDaemon::start(&[("BERTH_OCI__RUNTIME", "runc")])?;
        round(&mut d, "oci", "runc")?;
    }
    Ok(())
}

#[test]
fn routing_rules_and_backend_errors() -> Result<(), Error> {
    let d = RealDaemon::start(&[(
        "BERTH_ROUTING",
        r#"[{pattern = "*-ct-*", backend = "lxc"}, {pattern = "*-ns-*", backend = "nspawn"}]"#,
    )])?;
    d.ensure_image()?;
    let list = backends(&d)?;
    for want in ["builtin", "nspawn", "oci", "lxc"] {
        assert!(
            list.iter().any(|(b, _, _)| b == want),
            "{want} not in GET /system: {list:?}"
        );
    }
    for (name, usable, reason) in &list {
        assert_eq!(
            *usable,
            reason.is_empty(),
            "{name}: usable={usable} reason={reason:?}"
        );
    }
    let usable = |b: &str| list.iter().any(|(n, u, _)| n == b && *u);
    // Routing: the first matching rule, else the default; --backend wins.
    for (suffix, want) in [("ct-a", "lxc"), ("ns-a", "nspawn"), ("plain", "builtin")] {
        if !usable(want) {
            continue;
        }
        let name = d.name(suffix);
        d.ok(&["launch", "debian/12", &name, "--no-start"])?;
        assert_eq!(d.json(&["info", &name])?["backend"], want, "{name}");
        d.ok(&["delete", &name])?;
    }
    if usable("oci") {
        let name = d.name("ct-b");
        d.ok(&[
            "launch",
            "debian/12",
            &name,
            "--no-start",
            "--backend",
            "oci",
        ])?;
        assert_eq!(d.json(&["info", &name])?["backend"], "oci");
        d.ok(&["delete", &name])?;
    }
    // An unknown backend: one line naming it and what this berthd offers; nothing made.
    let out = d.berth(&["launch", "debian/12", &d.name("bad"), "--backend", "vmware"])?;
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("vmware") && stderr.contains("nspawn"),
        "{stderr}"
    );
    assert_eq!(d.json(&["list"])?, serde_json::json!([]));
    Ok(())
}

fn blob(dir: &std::path::Path, data: &[u8]) -> Result<String, Error> {
    use sha2::Digest;
    let hex: String = sha2::Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    std::fs::create_dir_all(dir.join("blobs/sha256"))?;
    std::fs::write(dir.join("blobs/sha256").join(&hex), data)?;
    Ok(format!("sha256:{hex}"))
}

/// An OCI archive built here (never pulled): busybox-static with /bin/sh, entrypoint
/// `sh -c`, a Cmd printing a variable of the image's Env.
fn busybox_archive(dir: &std::path::Path) -> Result<std::path::PathBuf, Error> {
    let layout = dir.join("layout");
    let mut layer = tar::Builder::new(Vec::new());
    layer.append_path_with_name("/bin/busybox", "bin/busybox")?;
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::Symlink);
    h.set_size(0);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(0);
    h.set_mode(0o777);
    layer.append_link(&mut h, "bin/sh", "busybox")?;
    for d in ["proc", "sys", "dev", "tmp"] {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Directory);
        h.set_size(0);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(0);
        h.set_mode(0o755);
        layer.append_data(&mut h, d, std::io::empty())?;
    }
    let layer = blob(&layout, &layer.into_inner()?)?;
    let config = serde_json::json!({"architecture": "amd64", "os": "linux", "config": {
        "Entrypoint": ["/bin/sh", "-c"], "Cmd": ["echo hello from $GREETING"],
        "Env": ["PATH=/bin", "GREETING=busybox"]}});
    let config = blob(&layout, config.to_string().as_bytes())?;
    let manifest = serde_json::json!({"schemaVersion": 2,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": layer}]});
    let manifest = blob(&layout, manifest.to_string().as_bytes())?;
    std::fs::write(
        layout.join("index.json"),
        serde_json::json!({"schemaVersion": 2, "manifests": [{"digest": manifest}]}).to_string(),
    )?;
    std::fs::write(
        layout.join("oci-layout"),
        r#"{"imageLayoutVersion":"1.0.0"}"#,
    )?;
    let archive = dir.join("busybox.tar");
    let mut b = tar::Builder::new(std::fs::File::create(&archive)?);
    b.append_dir_all(".", &layout)?;
    b.finish()?;
    Ok(archive)
}

#[test]
fn imported_oci_image_runs_its_entrypoint() -> Result<(), Error> {
    let d = RealDaemon::start(&[])?;
    let t = tempfile::tempdir()?;
    let archive = busybox_archive(t.path())?;
    let alias = format!("bb{}", d.id);
    let imported = d.json(&[
        "image",
        "import",
        &archive.display().to_string(),
        "--alias",
        &alias,
    ])?;
    assert_eq!(imported["entrypoint"], serde_json::json!(["/bin/sh", "-c"]));
    let image = format!("oci:{alias}");
    let listed = d.json(&["image", "list"])?;
    assert!(
        listed.as_array().is_some_and(|l| l
            .iter()
            .any(|i| i["alias"] == image.as_str() && i["status"] == "imported")),
        "{listed}"
    );
    let out = d.ok(&["run", &image])?;
    assert_eq!(out.trim(), "hello from busybox");
    let replaced = d.berth(&["run", &image, "--", "echo replaced; exit 3"])?;
    assert_eq!(replaced.status.code(), Some(3));
    assert_eq!(String::from_utf8_lossy(&replaced.stdout).trim(), "replaced");
    let missing = d.berth(&["run", "oci:no-such-image"])?;
    assert!(!missing.status.success());
    assert_eq!(
        String::from_utf8_lossy(&missing.stderr)
            .trim()
            .lines()
            .count(),
        1
    );
    // A file that is no image: refused, naming the body.
    let junk = t.path().join("junk.tar");
    std::fs::write(&junk, b"not a tar")?;
    assert!(
        !d.berth(&[
            "image",
            "import",
            &junk.display().to_string(),
            "--alias",
            "junk"
        ])?
        .status
        .success()
    );
    d.ok(&["image", "delete", &image])?;
    assert!(
        !d.berth(&["run", &image])?.status.success(),
        "deleted image still runs"
    );
    let left: Vec<_> = std::fs::read_dir(d.data_dir.join("apps"))
        .into_iter()
        .flatten()
        .collect();
    assert!(left.is_empty(), "run left {left:?}");
    Ok(())
}
