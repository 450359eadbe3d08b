//! Snapshots of a real running guest: taken while it runs (frozen for the copy), restored
//! (stopped, swapped, started again) with the guest's files back as they were.

#[path = "common/real.rs"]
mod real;

use real::{Error, RealDaemon, host_traces};

#[test]
fn a_running_guest_is_snapshotted_and_restored() -> Result<(), Error> {
    let d = RealDaemon::start(&[])?;
    d.ensure_image()?;
    let name = d.name("snap");
    d.ok(&[
        "launch",
        "debian/12",
        &name,
        "--memory",
        "256MiB",
        "--disk",
        "2GiB",
    ])?;
    let (code, _) = d.exec(&name, &["sh", "-c", "echo before > /root/state"])?;
    assert_eq!(code, 0);

    d.ok(&["snapshot", "create", &name, "good"])?;
    let info = d.json(&["info", &name])?;
    assert_eq!(info["state"], "running", "thawed after the snapshot");
    let list = d.json(&["snapshot", "list", &name])?;
    assert_eq!(list[0]["name"], "good", "{list}");
    assert!(
        list[0]["size"].as_u64().is_some_and(|s| s > 50 << 20),
        "{list}"
    );

    let (code, _) = d.exec(
        &name,
        &["sh", "-c", "echo after > /root/state; touch /root/junk"],
    )?;
    assert_eq!(code, 0);
    d.ok(&["snapshot", "restore", &name, "good"])?;
    let info = d.json(&["info", &name])?;
    assert_eq!(info["state"], "running", "started again after the restore");
    let (code, out) = d.exec(&name, &["cat", "/root/state"])?;
    assert_eq!((code, out.trim()), (0, "before"));
    let (code, _) = d.exec(&name, &["test", "-e", "/root/junk"])?;
    assert_ne!(code, 0, "files made after the snapshot are gone");
    let (code, out) = d.exec(&name, &["hostname"])?;
    assert_eq!((code, out.trim()), (0, name.as_str()));

    let refused = d.berth(&["snapshot", "restore", &name, "missing"])?;
    assert!(!refused.status.success());
    d.ok(&["snapshot", "delete", &name, "good"])?;
    d.ok(&["snapshot", "create", &name])?;
    d.ok(&["delete", "--force", &name])?;
    assert!(host_traces(&name).is_empty(), "{:?}", host_traces(&name));
    let pool = d.pool_dir().join("snapshots").join(&name);
    assert!(!pool.exists(), "snapshots go with the instance");
    Ok(())
}
