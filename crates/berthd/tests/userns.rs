//! An unprivileged guest's network namespace is made inside its own user namespace, with a
//! real berthd and the builtin backend: the netns on `/run/netns` is owned (NS_GET_USERNS) by
//! the user namespace kept on `<runtime_dir>/userns/NAME`, whose `uid_map` is
//! `0 START 65536` with START the instance's range; the guest's init is in that netns. A
//! privileged guest's netns belongs to the host's user namespace; converting it makes the
//! pair; delete removes both files.

#[path = "common/real.rs"]
mod real;

use std::fs::File;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use real::{Error, RealDaemon};

/// `NS_GET_USERNS`: `_IO(0xb7, 0x1)`.
const NS_GET_USERNS: libc::c_ulong = 0xb701;

fn identity(path: &Path) -> Result<(u64, u64), Error> {
    let meta = std::fs::metadata(path)?;
    Ok((meta.dev(), meta.ino()))
}

/// The user namespace owning the namespace bound at `path`.
fn owner(path: &Path) -> Result<(u64, u64), Error> {
    let ns = File::open(path)?;
    // SAFETY: NS_GET_USERNS takes no argument and returns a new descriptor or -1.
    let fd = unsafe { libc::ioctl(ns.as_raw_fd(), NS_GET_USERNS) };
    if fd < 0 {
        return Err(format!(
            "NS_GET_USERNS on {}: {}",
            path.display(),
            std::io::Error::last_os_error()
        )
        .into());
    }
    // SAFETY: the ioctl returned a descriptor we now own.
    let owner = File::from(unsafe { OwnedFd::from_raw_fd(fd) });
    let meta = owner.metadata()?;
    Ok((meta.dev(), meta.ino()))
}

fn netns(name: &str) -> PathBuf {
    PathBuf::from("/run/netns").join(format!("berth-{name}"))
}

/// `uid_map` as seen from inside the user namespace bound at `userns` (nsenter is
/// single-threaded, so it may join a user namespace).
fn uid_map(userns: &Path) -> Result<String, Error> {
    let out = Command::new("nsenter")
        .arg(format!("--user={}", userns.display()))
        .args(["cat", "/proc/self/uid_map"])
        .output()?;
    if !out.status.success() {
        return Err(format!("nsenter: {}", String::from_utf8_lossy(&out.stderr)).into());
    }
    Ok(String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" "))
}

#[test]
fn an_unprivileged_guest_owns_its_network_namespace() -> Result<(), Error> {
    let d = RealDaemon::start(&[])?;
    d.ensure_image()?;
    let name = d.name("un");
    d.ok(&["launch", "debian/12", &name, "--memory", "256MiB"])?;
    let info = d.json(&["info", &name])?;
    assert_eq!(info["privileged"], false, "{info}");
    let start = info["idmap"]["host_start"]
        .as_u64()
        .ok_or(format!("no range: {info}"))?;
    let userns = d.runtime_dir.join("userns").join(&name);
    let net = netns(&name);
    assert_eq!(
        owner(&net)?,
        identity(&userns)?,
        "the netns belongs to the guest's user namespace"
    );
    assert_eq!(uid_map(&userns)?, format!("0 {start} 65536"));
    let pid = info["pid"].as_i64().ok_or(format!("no pid: {info}"))?;
    assert_eq!(
        identity(Path::new(&format!("/proc/{pid}/ns/net")))?,
        identity(&net)?,
        "the guest's init is in that netns"
    );
    // A restart keeps the same pair (the guest's eth0 is plugged in again).
    d.ok(&["restart", &name])?;
    assert_eq!(owner(&net)?, identity(&userns)?);

    // A privileged guest's netns is the host's; converting it makes the pair.
    let privileged = d.name("pr");
    d.ok(&[
        "launch",
        "debian/12",
        &privileged,
        "--memory",
        "256MiB",
        "--privileged",
    ])?;
    assert_eq!(
        owner(&netns(&privileged))?,
        identity(Path::new("/proc/self/ns/user"))?
    );
    let converted_userns = d.runtime_dir.join("userns").join(&privileged);
    assert!(!converted_userns.exists());
    d.ok(&["stop", &privileged])?;
    d.ok(&["set", &privileged, "--unprivileged"])?;
    d.ok(&["start", &privileged])?;
    let info = d.json(&["info", &privileged])?;
    let converted = info["idmap"]["host_start"]
        .as_u64()
        .ok_or(format!("no range after conversion: {info}"))?;
    assert_ne!(converted, start, "its own range");
    assert_eq!(owner(&netns(&privileged))?, identity(&converted_userns)?);
    assert_eq!(uid_map(&converted_userns)?, format!("0 {converted} 65536"));

    for n in [&name, &privileged] {
        d.ok(&["delete", "--force", n])?;
        assert!(!netns(n).exists(), "{n}'s netns removed");
        assert!(
            !d.runtime_dir.join("userns").join(n).exists(),
            "{n}'s user namespace released"
        );
    }
    Ok(())
}
