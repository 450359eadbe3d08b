//! File push and pull with a real guest, running and stopped: bytes, mode and owner survive,
//! missing files are 404, a guest's symlinks (`/root/outside -> /`, a link to a host path)
//! never let a push write on the host, magic links are a 400, and owners outside the guest's
//! ids are refused by name. The links live on the root filesystem: a push into a running
//! unprivileged guest is written through its tree on disk, which a tmpfs `/tmp` of the guest's
//! hides (docs/API.md).

#[path = "common/real.rs"]
mod real;

use std::path::Path;

use real::{Error, RealDaemon};

fn random_bytes(len: usize) -> Vec<u8> {
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15 ^ u64::from(std::process::id());
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect()
}

#[test]
fn files_go_in_and_out_and_symlinks_never_reach_the_host() -> Result<(), Error> {
    let d = RealDaemon::start(&[])?;
    d.ensure_image()?;
    let name = d.name("files");
    d.ok(&["launch", "debian/12", &name, "--memory", "256MiB"])?;
    let scratch = tempfile::tempdir()?;
    let local = scratch.path().join("blob");
    let bytes = random_bytes(3 << 20);
    std::fs::write(&local, &bytes)?;

    for phase in ["running", "stopped"] {
        let target = format!("{name}/srv/data/blob-{phase}");
        d.ok(&[
            "file",
            "push",
            local.to_str().unwrap_or_default(),
            &target,
            "--mode",
            "0640",
            "--uid",
            "1000",
            "--gid",
            "100",
        ])?;
        let back = scratch.path().join(format!("back-{phase}"));
        d.ok(&["file", "pull", &target, back.to_str().unwrap_or_default()])?;
        assert_eq!(
            std::fs::read(&back)?,
            bytes,
            "{phase}: the same bytes come back"
        );
        if phase == "running" {
            let (code, out) = d.exec(
                &name,
                &[
                    "stat",
                    "-c",
                    "%a %u %g %s",
                    &format!("/srv/data/blob-{phase}"),
                ],
            )?;
            assert_eq!(
                (code, out.trim()),
                (0, format!("640 1000 100 {}", bytes.len()).as_str())
            );
            d.ok(&["stop", &name])?;
        }
    }
    d.ok(&["start", &name])?;
    // Let the guest finish booting: systemd mounts a tmpfs on /tmp, which would hide links
    // made below it before that.
    d.exec(&name, &["systemctl", "is-system-running", "--wait"])?;

    let missing = d.berth(&["file", "pull", &format!("{name}/no/such/file"), "-"])?;
    assert!(!missing.status.success());
    assert!(
        String::from_utf8_lossy(&missing.stderr).contains("not found"),
        "{missing:?}"
    );
    let listing = d.ok(&["file", "pull", &format!("{name}/srv/data")])?;
    assert!(
        listing.contains("blob-running") && listing.contains("blob-stopped"),
        "{listing}"
    );

    // Guest symlinks: one to its root, one to a host path that exists only on the host.
    let host_dir = tempfile::tempdir()?;
    let host_dir_path = host_dir.path().to_str().unwrap_or_default().to_owned();
    let (code, _) = d.exec(
        &name,
        &[
            "sh",
            "-c",
            &format!("ln -s / /root/outside && ln -s {host_dir_path} /root/hostlink"),
        ],
    )?;
    assert_eq!(code, 0);
    let unique = format!("berth-escape-{}", d.id);
    d.ok(&[
        "file",
        "push",
        local.to_str().unwrap_or_default(),
        &format!("{name}/root/outside/etc/{unique}"),
    ])?;
    assert!(
        !Path::new("/etc").join(&unique).exists(),
        "a push through /root/outside wrote on the host"
    );
    let (code, _) = d.exec(&name, &["test", "-f", &format!("/etc/{unique}")])?;
    assert_eq!(code, 0, "it landed in the guest's /etc");
    let through = d.berth(&[
        "file",
        "push",
        local.to_str().unwrap_or_default(),
        &format!("{name}/root/hostlink/evil"),
    ])?;
    assert_eq!(
        std::fs::read_dir(host_dir.path())?.count(),
        0,
        "nothing written into the host dir: {through:?}"
    );
    let pulled = d.berth(&[
        "file",
        "pull",
        &format!("{name}/root/outside/etc/hostname"),
        "-",
    ])?;
    assert_eq!(
        String::from_utf8_lossy(&pulled.stdout).trim(),
        name,
        "reads resolve in the guest too: {pulled:?}"
    );

    // Magic links (a process's root, cwd, exe, fds), directly or through a guest symlink to
    // one, are refused as a bad path: a 400, never a 500.
    // (Not under /tmp: a guest may mount its tmpfs there late in boot, hiding what was made.)
    let (code, _) = d.exec(&name, &["ln", "-s", "/proc/1/root", "/srv/data/magic"])?;
    assert_eq!(code, 0);
    for path in [
        "/proc/1/root/etc/hostname",
        "/proc/1/cwd/etc/hostname",
        "/proc/1/exe",
        "/proc/1/fd/0",
        "/srv/data/magic/etc/hostname",
    ] {
        for verb in ["pull", "push"] {
            let target = format!("{name}{path}");
            let args = match verb {
                "pull" => vec!["file", "pull", &target, "-"],
                _ => vec!["file", "push", local.to_str().unwrap_or_default(), &target],
            };
            let out = d.berth(&args)?;
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(!out.status.success(), "{verb} {path} succeeded");
            assert!(
                !stderr.contains("internal") && !stderr.contains("500"),
                "{verb} {path}: {stderr}"
            );
        }
    }
    for (args, field) in [
        (vec!["--mode", "999"], "mode"),
        (vec!["--mode", "0644x"], "mode"),
        (vec!["--uid", "65536"], "uid"),
        (vec!["--gid", "4294967295"], "gid"),
    ] {
        let mut cmd = vec!["file", "push", local.to_str().unwrap_or_default()];
        let target = format!("{name}/root/x");
        cmd.push(&target);
        cmd.extend(args);
        let out = d.berth(&cmd)?;
        assert!(!out.status.success());
        assert!(
            String::from_utf8_lossy(&out.stderr).contains(field),
            "{out:?}"
        );
    }
    // exec as another user, by name or uid; a bad one names the field.
    let as_nobody = d.ok(&["exec", "--user", "nobody", &name, "--", "id", "-un"])?;
    assert_eq!(as_nobody.trim(), "nobody");
    let by_uid = d.ok(&["exec", "--user", "65534", &name, "--", "id", "-u"])?;
    assert_eq!(by_uid.trim(), "65534");
    let bad = d.berth(&["exec", "--user", "Bad User", &name, "--", "true"])?;
    assert!(!bad.status.success() && String::from_utf8_lossy(&bad.stderr).contains("user"));
    d.ok(&["delete", "--force", &name])?;
    Ok(())
}
