//! Application containers on the oci backend: one command from an imported image's root
//! filesystem (its entrypoint and cmd, `docker run` style) run to its end with crun or runc,
//! output collected, then everything removed. The container gets its own pid, mount, uts,
//! ipc, cgroup and network (loopback only) namespaces, Berth's cgroup `/berth/<name>` with
//! the limits, a Docker-like capability set and no new privileges.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use berth_cgroups::{self as cgroup, Layout};
use berth_types::Limits;
use serde_json::json;

use super::{OciRuntime, OciTool, hybrid};
use crate::local::state::Paths;
use crate::local::{security, spec, tools};
use crate::{ExecResult, RuntimeError};

/// What to run.
#[derive(Debug, Clone)]
pub struct AppSpec {
    /// A unique container id (a valid instance name: it names the cgroup).
    pub id: berth_types::InstanceName,
    /// The unpacked image; used as the container's root as it is (read-write).
    pub rootfs: PathBuf,
    pub argv: Vec<String>,
    /// `KEY=VALUE`.
    pub env: Vec<String>,
    pub cwd: String,
    pub limits: Limits,
    /// An empty directory for the bundle; the caller removes it.
    pub bundle: PathBuf,
    pub timeout: Duration,
    pub output_cap: usize,
}

/// Docker's default capabilities for application containers.
const APP_CAPS: &[&str] = &[
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FSETID",
    "CAP_FOWNER",
    "CAP_MKNOD",
    "CAP_NET_RAW",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETFCAP",
    "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT",
    "CAP_KILL",
    "CAP_AUDIT_WRITE",
];

fn mount(dest: &str, typ: &str, source: &str, options: &[&str]) -> serde_json::Value {
    json!({"destination": dest, "type": typ, "source": source, "options": options})
}

/// The bundle's config.json for `app`.
fn config(app: &AppSpec, rootfs: &std::path::Path) -> serde_json::Value {
    let mut env = app.env.clone();
    if !env.iter().any(|e| e.starts_with("PATH=")) {
        env.push("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into());
    }
    // An application container runs once, briefly: on the parent's CPUs.
    let resources = spec::resources(&app.limits, None);
    // No /proc/sys/net of its own: all of /proc/sys is read-only.
    let mut readonly = vec!["/proc/sys"];
    readonly.extend(security::READONLY_PATHS);
    json!({
        "ociVersion": "1.0.2",
        "root": {"path": rootfs, "readonly": false},
        "hostname": app.id.as_str(),
        "process": {
            "terminal": false,
            "user": {"uid": 0, "gid": 0},
            "args": app.argv,
            "env": env,
            "cwd": app.cwd,
            "capabilities": {"bounding": APP_CAPS, "effective": APP_CAPS, "permitted": APP_CAPS},
            "noNewPrivileges": true,
        },
        "mounts": [
            mount("/proc", "proc", "proc", &["nosuid", "noexec", "nodev"]),
            mount("/dev", "tmpfs", "tmpfs", &["nosuid", "strictatime", "mode=755", "size=65536k"]),
            mount("/dev/pts", "devpts", "devpts",
                &["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]),
            mount("/dev/shm", "tmpfs", "shm", &["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]),
            mount("/dev/mqueue", "mqueue", "mqueue", &["nosuid", "noexec", "nodev"]),
            mount("/sys", "sysfs", "sysfs", &["nosuid", "noexec", "nodev", "ro"]),
        ],
        "linux": {
            "cgroupsPath": format!("/{}/{}", cgroup::PARENT, app.id),
            "namespaces": [
                {"type": "pid"}, {"type": "mount"}, {"type": "uts"}, {"type": "ipc"},
                {"type": "cgroup"}, {"type": "network"},
            ],
            "resources": resources,
            "seccomp": security::seccomp(true, true),
            "maskedPaths": security::MASKED_PATHS,
            "readonlyPaths": readonly,
        },
    })
}

impl OciRuntime {
    /// Runs `app` to its end (or its timeout) and returns its exit code and output.
    pub async fn run_app(&self, app: &AppSpec) -> Result<ExecResult, RuntimeError> {
        let failed = |reason: String| RuntimeError::Failed {
            name: app.id.clone(),
            action: "run",
            reason,
        };
        let (tool, program) = self
            .launcher()
            .tool()
            .map_err(|reason| RuntimeError::Unusable {
                backend: "oci",
                reason,
            })?;
        let rootfs = std::fs::canonicalize(&app.rootfs)
            .map_err(|e| failed(format!("{}: {e}", app.rootfs.display())))?;
        let path = app.bundle.join("config.json");
        std::fs::write(&path, config(app, &rootfs).to_string())
            .map_err(|e| failed(format!("{}: {e}", path.display())))?;
        let layout = Layout::detect().map_err(|e| failed(e.to_string()))?;
        let hide = tool == OciTool::Crun && hybrid(&layout);
        let root = Paths::new(&self.config().state_root, app.id.as_str()).engine_root;
        let mut cmd = tokio::process::Command::new(&program);
        cmd.arg("--root")
            .arg(&root)
            .arg("run")
            .arg("--bundle")
            .arg(&app.bundle)
            .arg(app.id.as_str())
            .kill_on_drop(true);
        if hide {
            private_cgroup_v1(&mut cmd);
        }
        let result = tools::collect(cmd, None, app.output_cap, app.timeout).await;
        // Whatever happened: no container, state or cgroup is left.
        let _ = tokio::process::Command::new(&program)
            .arg("--root")
            .arg(&root)
            .args(["delete", "-f", app.id.as_str()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .await;
        let id = app.id.clone();
        let _ = tokio::task::spawn_blocking(move || {
            if let Ok(layout) = Layout::detect() {
                let _ = cgroup::prune(&layout, id.as_str());
            }
        })
        .await;
        result.map_err(|e| match e {
            tools::ToolError::Timeout { .. } => RuntimeError::ExecTimeout(app.timeout.as_secs()),
            other => failed(other.to_string()),
        })
    }
}

/// Runs the command in a private mount namespace without `/sys/fs/cgroup/unified`, where
/// crun accepts a hybrid host's cgroups.
fn private_cgroup_v1(cmd: &mut tokio::process::Command) {
    // SAFETY: between fork and exec only unshare(2), mount(2) and umount2(2) run, all
    // async-signal-safe, with static NUL-terminated strings.
    unsafe {
        cmd.pre_exec(|| {
            if libc::unshare(libc::CLONE_NEWNS) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            let flags = libc::MS_REC | libc::MS_PRIVATE;
            if libc::mount(
                c"none".as_ptr(),
                c"/".as_ptr(),
                std::ptr::null(),
                flags,
                std::ptr::null(),
            ) < 0
            {
                return Err(std::io::Error::last_os_error());
            }
            if libc::umount2(c"/sys/fs/cgroup/unified".as_ptr(), libc::MNT_DETACH) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}
