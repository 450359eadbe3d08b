//! Backups end to end: made from a running guest, kept to `[backups] keep`, downloaded,
//! imported as a new instance that boots with the old files and its own identity; hostile and
//! truncated archives refused with nothing left behind.

#[path = "common/real.rs"]
mod real;

use std::os::unix::fs::PermissionsExt;

use real::{Error, RealDaemon, host_traces};

#[test]
fn a_backup_is_made_downloaded_and_imported_and_bad_archives_are_refused() -> Result<(), Error> {
    let d = RealDaemon::start(&[("BERTH_BACKUPS__KEEP", "2")])?;
    d.ensure_image()?;
    let name = d.name("bk");
    d.ok(&["launch", "debian/12", &name, "--memory", "256MiB"])?;
    let (code, _) = d.exec(&name, &["sh", "-c", "echo precious > /root/state"])?;
    assert_eq!(code, 0);
    for _ in 0..3 {
        d.ok(&["backup", "create", &name])?;
    }
    assert_eq!(
        d.json(&["info", &name])?["state"],
        "running",
        "thawed after the snapshot"
    );
    let backups = d.json(&["backup", "list", &name])?;
    let list = backups.as_array().ok_or("not a list")?;
    assert_eq!(list.len(), 2, "kept to [backups] keep = 2: {backups}");
    let id = list[1]["id"].as_str().ok_or("no id")?.to_owned();
    let stored = d
        .data_dir
        .join("backups")
        .join(&name)
        .join(format!("{id}.tar.zst"));
    assert_eq!(
        std::fs::metadata(&stored)?.permissions().mode() & 0o777,
        0o600
    );

    let scratch = tempfile::tempdir()?;
    let file = scratch.path().join("web.tar.zst");
    d.ok(&[
        "backup",
        "export",
        &name,
        &id,
        file.to_str().unwrap_or_default(),
    ])?;
    assert_eq!(std::fs::read(&file)?, std::fs::read(&stored)?);

    let copy = d.name("bkcopy");
    d.ok(&["backup", "import", file.to_str().unwrap_or_default(), &copy])?;
    let info = d.json(&["info", &copy])?;
    assert_eq!(info["state"], "stopped", "{info}");
    assert_ne!(
        info["network"]["ipv4"],
        d.json(&["info", &name])?["network"]["ipv4"]
    );
    d.ok(&["start", &copy])?;
    let (code, out) = d.exec(&copy, &["cat", "/root/state"])?;
    assert_eq!((code, out.trim()), (0, "precious"));
    let (_, host) = d.exec(&copy, &["hostname"])?;
    assert_eq!(host.trim(), copy, "the copy has its own name");
    let taken = d.berth(&["backup", "import", file.to_str().unwrap_or_default(), &copy])?;
    assert!(!taken.status.success(), "a taken name is refused");
    // Restored from the stored backup, without a download: the same files, a new instance.
    let restored = d.name("bkr");
    d.ok(&["backup", "restore", &name, &id, &restored])?;
    assert_eq!(d.json(&["info", &restored])?["state"], "stopped");
    d.ok(&["start", &restored])?;
    let (code, out) = d.exec(&restored, &["cat", "/root/state"])?;
    assert_eq!((code, out.trim()), (0, "precious"));
    let taken = d.berth(&["backup", "restore", &name, &id, &copy])?;
    assert!(!taken.status.success(), "a taken name is refused");
    d.ok(&["delete", "--force", &restored])?;

    // With --snapshots, the snapshots come back as snapshots of the imported instance.
    d.ok(&["snapshot", "create", &name, "s1"])?;
    d.exec(&name, &["sh", "-c", "echo later > /root/state"])?;
    d.ok(&["backup", "create", "--snapshots", &name])?;
    let newest = d.json(&["backup", "list", &name])?;
    let newest = newest[1]["id"].as_str().ok_or("no id")?.to_owned();
    let with_snaps = scratch.path().join("with-snapshots.tar.zst");
    d.ok(&[
        "backup",
        "export",
        &name,
        &newest,
        with_snaps.to_str().unwrap_or_default(),
    ])?;
    let third = d.name("bk3");
    d.ok(&[
        "backup",
        "import",
        with_snaps.to_str().unwrap_or_default(),
        &third,
    ])?;
    let snaps = d.json(&["snapshot", "list", &third])?;
    assert_eq!(snaps[0]["name"], "s1", "{snaps}");
    d.ok(&["snapshot", "restore", &third, "s1"])?;
    d.ok(&["start", &third])?;
    let (_, out) = d.exec(&third, &["cat", "/root/state"])?;
    assert_eq!(
        out.trim(),
        "precious",
        "the imported snapshot restores the old state"
    );

    // A hostile archive (a `..` entry) and a truncated one: refused, nothing left.
    let mut tar = tar::Builder::new(Vec::new());
    let manifest = br#"{"format":1,"instance":"evil","image":"debian/12","config":{},"created_at":"2026-11-22T00:00:00Z"}"#;
    let mut header = tar::Header::new_gnu();
    header.set_size(manifest.len() as u64);
    header.set_cksum();
    tar.append_data(&mut header, "backup.json", &manifest[..])?;
    let mut evil = tar::Header::new_gnu();
    evil.as_old_mut().name[..13].copy_from_slice(b"rootfs/../../");
    evil.set_size(4);
    evil.set_mode(0o644);
    evil.set_cksum();
    tar.append(&evil, &b"evil"[..])?;
    let hostile = scratch.path().join("hostile.tar.zst");
    std::fs::write(&hostile, zstd::encode_all(tar.into_inner()?.as_slice(), 3)?)?;
    let truncated = scratch.path().join("cut.tar.zst");
    let bytes = std::fs::read(&file)?;
    std::fs::write(&truncated, &bytes[..bytes.len() / 3])?;
    for (archive, new) in [(&hostile, d.name("evil")), (&truncated, d.name("cut"))] {
        let out = d.berth(&[
            "backup",
            "import",
            archive.to_str().unwrap_or_default(),
            &new,
        ])?;
        assert!(!out.status.success(), "{} was imported", archive.display());
        let message = String::from_utf8_lossy(&out.stderr).into_owned();
        let listed = d.json(&["list"])?;
        assert!(
            !listed.to_string().contains(&new),
            "{new} is listed: {listed}"
        );
        assert!(
            !d.pool_dir().join("instances").join(&new).exists(),
            "{message}"
        );
        assert!(host_traces(&new).is_empty());
        eprintln!("{}: {message}", archive.display());
    }
    let incoming: Vec<_> = std::fs::read_dir(d.data_dir.join("backups"))?
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(".incoming"))
        .collect();
    assert!(incoming.is_empty(), "uploads are removed: {incoming:?}");

    d.ok(&["backup", "delete", &name, &id])?;
    assert!(!stored.exists());
    d.ok(&["delete", "--force", &name])?;
    assert!(
        !d.data_dir.join("backups").join(&name).exists(),
        "backups go with the instance"
    );
    Ok(())
}
