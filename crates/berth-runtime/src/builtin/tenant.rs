//! `berth-shim exec`: a short-lived helper that runs one command inside a running guest with
//! libcontainer's tenant builder, waits for it and reports on descriptor 3 (the status pipe):
//! `pid N` once it runs, then `exit CODE`, or `error notrunning|notfound|failed MESSAGE`.

use std::collections::HashMap;
use std::fs::File;
use std::io::Write;
use std::os::fd::{FromRawFd, OwnedFd};

use libcontainer::container::builder::ContainerBuilder;
use libcontainer::syscall::syscall::SyscallType;
use nix::sys::wait::{WaitStatus, waitpid};

use super::cgroup::{self, Layout};
use super::shim::Opts;
use super::state::Paths;

/// The descriptor the daemon hands the helper its status pipe on.
pub const STATUS_FD: i32 = 3;

#[derive(Debug, thiserror::Error)]
enum TenantError {
    #[error("notrunning the guest is not running")]
    NotRunning,
    #[error("notfound {0}")]
    NotFound(String),
    #[error("failed {0}")]
    Failed(String),
}

impl From<cgroup::CgroupError> for TenantError {
    fn from(e: cgroup::CgroupError) -> Self {
        TenantError::Failed(e.to_string())
    }
}

impl From<cgroup::LayoutError> for TenantError {
    fn from(e: cgroup::LayoutError) -> Self {
        TenantError::Failed(e.to_string())
    }
}

pub(super) fn exec_main(opts: Opts) -> i32 {
    if nix::fcntl::fcntl(STATUS_FD, nix::fcntl::FcntlArg::F_GETFD).is_err() {
        eprintln!("berth-shim exec: descriptor {STATUS_FD} (the status pipe) is not open");
        return 2;
    }
    // SAFETY: the daemon starts the helper with its status pipe on STATUS_FD and nothing else
    // in this process owns that descriptor.
    let mut status = File::from(unsafe { OwnedFd::from_raw_fd(STATUS_FD) });
    let result = exec(&opts, &mut status);
    let line = match result {
        Ok(code) => format!("exit {code}"),
        Err(e) => format!("error {}", e.to_string().replace('\n', " ")),
    };
    let _ = writeln!(status, "{line}");
    0
}

fn exec(opts: &Opts, status: &mut File) -> Result<i32, TenantError> {
    let paths = Paths::new(&opts.state_root, &opts.name);
    let init = paths.init().ok_or(TenantError::NotRunning)?;
    if opts.argv.is_empty() {
        return Err(TenantError::NotFound(String::new()));
    }
    let layout = Layout::detect()?;
    let init_pid = init.pid.to_string();
    // Join init's own cgroup: on v1 in the hierarchies libcgroups does not manage (it puts us
    // in the guest's controllers), on v2 as a sub-cgroup (the guest's root holds no processes).
    let mut sub_cgroup = None;
    for (h, key) in layout.self_joined() {
        let path = cgroup::process_cgroup(&init_pid, key)?;
        cgroup::enter(&h.mount.join(path.trim_start_matches('/')))?;
    }
    if let Layout::V2(_) = layout {
        let path = cgroup::process_cgroup(&init_pid, "")?;
        let root = format!("/{}/{}", cgroup::PARENT, opts.name);
        let sub = path
            .strip_prefix(&root)
            .unwrap_or("")
            .trim_start_matches('/');
        if !sub.is_empty() {
            sub_cgroup = Some(sub.to_owned());
        }
    }
    let env: HashMap<String, String> = opts.env.iter().cloned().collect();
    let builder = ContainerBuilder::new(opts.name.clone(), SyscallType::default())
        .with_root_path(&paths.youki_root)
        .map_err(|e| TenantError::Failed(e.to_string()))?;
    let pid = builder
        .as_tenant()
        .with_container_args(opts.argv.clone())
        .with_env(env)
        .with_cwd(opts.cwd.as_ref())
        .with_detach(false)
        .with_sub_cgroup(sub_cgroup)
        .build()
        .map_err(|e| {
            let msg = e.to_string();
            if msg.contains("not found") {
                TenantError::NotFound(opts.argv[0].clone())
            } else {
                TenantError::Failed(msg)
            }
        })?;
    let _ = writeln!(status, "pid {pid}");
    let _ = status.flush();
    loop {
        match waitpid(pid, None) {
            Ok(WaitStatus::Exited(_, code)) => return Ok(code),
            Ok(WaitStatus::Signaled(_, sig, _)) => return Ok(128 + sig as i32),
            Ok(_) | Err(nix::Error::EINTR) => {}
            Err(e) => return Err(TenantError::Failed(format!("wait: {e}"))),
        }
    }
}
