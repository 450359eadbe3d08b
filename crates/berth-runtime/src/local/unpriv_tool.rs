//! What the host-tool backends that make their own user namespace (nspawn) need around the
//! tool in the supervisor for an unprivileged guest (docs/UNPRIVILEGED.md, "nspawn"):
//!
//! - before the first boot, a mount namespace of the supervisor's own with a fresh procfs on
//!   `/proc` (the tool writes `uid_map` through it, and the guest's own `/proc` mount is refused
//!   while the only procfs in sight is a read-only one);
//! - after every boot, the tool's host-side veth plugged into the bridge (nspawn re-creates the
//!   pair at each boot) and lxcfs' files bound over the guest's `/proc` files (nspawn cannot
//!   bind them itself: it applies binds under `/proc` where the host paths do not exist).
//!
//! The launcher writes an [`UnprivTool`] next to `launch.json` (`unpriv-tool.json`); the tool
//! engine calls [`before_start`] and [`after_start`], which do nothing without that file (a
//! privileged guest). Also [`join_userns`].

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};

use berth_isolation::PrivateProc;
use berth_isolation::lxcfs::{GUEST_FILES, GuestBind, reattach};
use serde::{Deserialize, Serialize};

use super::plan::{PlanFileError, SupervisorFile};
use super::state::Paths;

/// What the supervisor does around the tool for one unprivileged guest.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnprivTool {
    /// Run the tool in a mount namespace of our own with a fresh procfs on `/proc`.
    pub fresh_proc: bool,
    /// The tool's host-side veth and the bridge it goes on after each boot.
    pub plug: Option<Plug>,
    /// The host's lxcfs mount point; its files are bound over the guest's after each boot.
    pub lxcfs: Option<PathBuf>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plug {
    pub veth: String,
    pub bridge: String,
}

#[derive(Debug, thiserror::Error)]
pub enum UnprivToolError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    File(#[from] PlanFileError),
    #[error("private mount namespace with a fresh /proc: {0}")]
    Namespace(nix::Error),
    #[error("plugging {veth} into {bridge}: {why}")]
    Plug {
        veth: String,
        bridge: String,
        why: String,
    },
    #[error("binding lxcfs into the guest: {0}")]
    Lxcfs(String),
    #[error("joining the guest's user namespace: {0}")]
    Userns(String),
}

impl SupervisorFile for UnprivTool {
    const NAME: &'static str = "unpriv-tool.json";
}

/// Once per supervisor: the private mount namespace is kept across reboots.
static PRIVATE_NS: AtomicBool = AtomicBool::new(false);

/// Before each start of the tool.
pub fn before_start(paths: &Paths) -> Result<(), UnprivToolError> {
    let Some(plan) = UnprivTool::read(paths)? else {
        return Ok(());
    };
    if plan.fresh_proc && !PRIVATE_NS.swap(true, Ordering::SeqCst) {
        private_mount_namespace_with_proc().map_err(UnprivToolError::Namespace)?;
    }
    if let Some(plug) = &plan.plug {
        wait_veth_gone(&plug.veth);
    }
    Ok(())
}

/// After a reboot the last boot's veth goes with its network namespace, which the kernel
/// tears down in the background; the tool cannot make one of the same name before. Waits a
/// while, then deletes a leftover.
fn wait_veth_gone(veth: &str) {
    let dir = Path::new("/sys/class/net").join(veth);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while dir.exists() {
        if std::time::Instant::now() > deadline {
            tracing::warn!(%veth, "the last boot's veth is still there: deleting it");
            let _ = Command::new("ip").args(["link", "del", veth]).output();
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// After each start, once the guest's init (host pid `init`) runs.
pub fn after_start(paths: &Paths, init: i32) -> Result<(), UnprivToolError> {
    let Some(plan) = UnprivTool::read(paths)? else {
        return Ok(());
    };
    if let Some(plug) = &plan.plug {
        plug_veth(plug)?;
    }
    if let Some(mount) = &plan.lxcfs {
        let binds = lxcfs_binds(mount);
        let proc = PrivateProc::new().map_err(|e| UnprivToolError::Lxcfs(e.to_string()))?;
        // A convenience, not a boundary: the guest runs on without it.
        match reattach::reattach(init, &binds, &proc) {
            Ok(n) => tracing::info!(instance = %paths.name, files = n, "lxcfs bound"),
            Err(e) => tracing::warn!(instance = %paths.name, "lxcfs not bound: {e}"),
        }
    }
    Ok(())
}

/// `unshare(CLONE_NEWNS)`, `/` a slave of the host's mounts, and a procfs of our own on
/// `/proc` (writable even where the host's is mounted read-only).
pub fn private_mount_namespace_with_proc() -> Result<(), nix::Error> {
    use nix::mount::{MsFlags, mount};
    nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNS)?;
    mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_REC | MsFlags::MS_SLAVE,
        None::<&str>,
    )?;
    mount(
        Some("proc"),
        "/proc",
        Some("proc"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
        None::<&str>,
    )
}

/// The lxcfs files a guest gets from the lxcfs mounted at `mount`.
pub fn lxcfs_binds(mount: &Path) -> Vec<GuestBind> {
    GUEST_FILES
        .iter()
        .map(|target| GuestBind {
            source: mount.join(target.trim_start_matches('/')),
            target,
        })
        .filter(|b| b.source.exists())
        .collect()
}

/// `ip link set VETH master BRIDGE up`.
fn plug_veth(plug: &Plug) -> Result<(), UnprivToolError> {
    let err = |why: String| UnprivToolError::Plug {
        veth: plug.veth.clone(),
        bridge: plug.bridge.clone(),
        why,
    };
    let out = Command::new("ip")
        .args(["link", "set", &plug.veth, "master", &plug.bridge, "up"])
        .output()
        .map_err(|e| err(e.to_string()))?;
    if !out.status.success() {
        return Err(err(String::from_utf8_lossy(&out.stderr).trim().to_owned()));
    }
    Ok(())
}

/// Joins the user namespace of `pid` when it is not ours (an unprivileged guest) and becomes
/// its root, so what runs next has the guest's ids; returns whether it joined. Call from a
/// single-threaded process, before joining the guest's other namespaces (they belong to it).
pub fn join_userns(pid: i32) -> Result<bool, UnprivToolError> {
    use std::os::unix::fs::MetadataExt;
    let err =
        |what: &str, e: &dyn std::fmt::Display| UnprivToolError::Userns(format!("{what}: {e}"));
    let theirs = format!("/proc/{pid}/ns/user");
    let (a, b) = (
        std::fs::metadata(&theirs).map_err(|e| err(&theirs, &e))?,
        std::fs::metadata("/proc/self/ns/user").map_err(|e| err("own user namespace", &e))?,
    );
    if (a.dev(), a.ino()) == (b.dev(), b.ino()) {
        return Ok(false);
    }
    let file = std::fs::File::open(&theirs).map_err(|e| err(&theirs, &e))?;
    nix::sched::setns(&file, nix::sched::CloneFlags::CLONE_NEWUSER)
        .map_err(|e| err("setns", &e))?;
    // Denied when the namespace's setgroups is "deny"; there are no groups to drop then.
    let _ = nix::unistd::setgroups(&[]);
    let root_g = nix::unistd::Gid::from_raw(0);
    let root_u = nix::unistd::Uid::from_raw(0);
    nix::unistd::setresgid(root_g, root_g, root_g).map_err(|e| err("setresgid 0", &e))?;
    nix::unistd::setresuid(root_u, root_u, root_u).map_err(|e| err("setresuid 0", &e))?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_plan_round_trips_and_is_absent_for_privileged_guests()
    -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let paths = Paths::new(dir.path(), "web1");
        std::fs::create_dir_all(&paths.dir)?;
        assert_eq!(UnprivTool::read(&paths)?, None);
        let plan = UnprivTool {
            fresh_proc: true,
            plug: Some(Plug {
                veth: "vb0123".into(),
                bridge: "berth0".into(),
            }),
            lxcfs: Some("/run/berth/lxcfs/mnt".into()),
        };
        plan.write(&paths)?;
        assert_eq!(UnprivTool::read(&paths)?, Some(plan));
        UnprivTool::clear(&paths)?;
        assert_eq!(UnprivTool::read(&paths)?, None);
        assert!(
            !join_userns(std::process::id() as i32)?,
            "our own namespace"
        );
        Ok(())
    }
}
