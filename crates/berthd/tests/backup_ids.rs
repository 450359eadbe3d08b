//! A backup of an unprivileged guest, imported as a new instance, keeps the ownership of its
//! files inside and gets a range of host ids of its own, with a real berthd: a file guest A's
//! root gave to 1234:1234 is `1234:1234` inside the imported guest B; B's range differs from
//! A's; on disk both root filesystems keep the guest's ids (1234, docs/UNPRIVILEGED.md: the
//! rootfs is idmapped at mount), and through each guest's running root (`/proc/PID/root`,
//! its idmapped mount) the host sees START + 1234 of that guest's range.

#[path = "common/real.rs"]
mod real;

use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;

use real::{Error, RealDaemon};

const FILE: &str = "srv/owned";

/// (range start, init's host pid) from `berth info`.
fn range_and_pid(d: &RealDaemon, name: &str) -> Result<(u64, i64), Error> {
    let info = d.json(&["info", name])?;
    assert_eq!(info["privileged"], false, "{name}: {info}");
    let start = info["idmap"]["host_start"]
        .as_u64()
        .ok_or(format!("{name}: no range: {info}"))?;
    let pid = info["pid"]
        .as_i64()
        .ok_or(format!("{name}: no pid: {info}"))?;
    Ok((start, pid))
}

/// The real uid init runs as on the host (`Uid:` in `/proc/PID/status`).
fn init_host_uid(pid: i64) -> Result<u64, Error> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let uid = status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|v| v.split_whitespace().next())
        .ok_or("no Uid line")?;
    Ok(uid.parse()?)
}

/// (uid, gid) of the file on the host, through `path`.
fn host_ids(path: &PathBuf) -> Result<(u64, u64), Error> {
    let meta = std::fs::metadata(path).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok((u64::from(meta.uid()), u64::from(meta.gid())))
}

#[test]
fn an_imported_unprivileged_backup_keeps_ownership_in_a_new_range() -> Result<(), Error> {
    let d = RealDaemon::start(&[])?;
    d.ensure_image()?;
    let a = d.name("ida");
    d.ok(&["launch", "debian/12", &a, "--memory", "256MiB"])?;
    let (code, out) = d.exec(
        &a,
        &[
            "sh",
            "-c",
            "echo mine > /srv/owned && chown 1234:1234 /srv/owned && stat -c %u:%g /srv/owned",
        ],
    )?;
    assert_eq!((code, out.trim()), (0, "1234:1234"), "inside A");
    let (start_a, pid_a) = range_and_pid(&d, &a)?;
    assert_eq!(
        init_host_uid(pid_a)?,
        start_a,
        "A's root is START on the host"
    );
    let disk_a = d.pool_dir().join("instances").join(&a).join(FILE);
    assert_eq!(host_ids(&disk_a)?, (1234, 1234), "A's disk keeps guest ids");
    let through_a = PathBuf::from(format!("/proc/{pid_a}/root")).join(FILE);
    assert_eq!(
        host_ids(&through_a)?,
        (start_a + 1234, start_a + 1234),
        "A's idmapped root"
    );

    d.ok(&["backup", "create", &a])?;
    let list = d.json(&["backup", "list", &a])?;
    let id = list[0]["id"].as_str().ok_or("no backup id")?.to_owned();
    let scratch = tempfile::tempdir()?;
    let archive = scratch.path().join("a.tar.zst");
    let archive_arg = archive.to_str().ok_or("path")?;
    d.ok(&["backup", "export", &a, &id, archive_arg])?;
    let b = d.name("idb");
    d.ok(&["backup", "import", archive_arg, &b])?;
    d.ok(&["start", &b])?;

    let (code, out) = d.exec(&b, &["stat", "-c", "%u:%g", "/srv/owned"])?;
    assert_eq!((code, out.trim()), (0, "1234:1234"), "inside B");
    let (_, content) = d.exec(&b, &["cat", "/srv/owned"])?;
    assert_eq!(content.trim(), "mine");
    let (start_b, pid_b) = range_and_pid(&d, &b)?;
    assert_ne!(start_b, start_a, "B has a range of its own");
    assert_eq!(init_host_uid(pid_b)?, start_b, "B's root is its START");
    let disk_b = d.pool_dir().join("instances").join(&b).join(FILE);
    assert_eq!(host_ids(&disk_b)?, (1234, 1234), "B's disk keeps guest ids");
    let through_b = PathBuf::from(format!("/proc/{pid_b}/root")).join(FILE);
    assert_eq!(
        host_ids(&through_b)?,
        (start_b + 1234, start_b + 1234),
        "B's idmapped root shows B's range"
    );
    eprintln!(
        "A: range {start_a}, file {:?} via init; B: range {start_b}, file {:?} via init",
        host_ids(&through_a)?,
        host_ids(&through_b)?
    );

    for n in [&a, &b] {
        d.ok(&["delete", "--force", n])?;
    }
    Ok(())
}
