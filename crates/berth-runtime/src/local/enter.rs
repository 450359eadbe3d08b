//! `berthd shim enter`: runs one command inside a local backend's running guest, like
//! `nsenter --all` but also in init's cgroups (so the guest's limits hold), with no more
//! capabilities than init's bounding set and the guests' syscall deny list; in an
//! unprivileged guest's user namespace too, as its root. Speaks the exec
//! protocol (`super::exec`) on descriptor 3: `pid N` once it runs, then `exit CODE`, or `error notrunning|notfound|failed`.

use std::ffi::CString;
use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsFd, FromRawFd, OwnedFd};
use std::path::Path;

use berth_cgroups::{self as cgroup, Layout};
use nix::sched::{CloneFlags, setns};
use nix::sys::wait::{WaitStatus, waitpid};
use nix::unistd::{ForkResult, chroot, fchdir, fork};

use super::exec::STATUS_FD;
use super::invoke::Opts;
use super::isolation::Isolation;
use super::plan::SupervisorFile;
use super::state::Paths;

const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
/// Namespaces joined, in order: the mount namespace last but one, pid last (it applies to
/// the child forked afterwards).
const NAMESPACES: &[(&str, CloneFlags)] = &[
    ("cgroup", CloneFlags::CLONE_NEWCGROUP),
    ("ipc", CloneFlags::CLONE_NEWIPC),
    ("uts", CloneFlags::CLONE_NEWUTS),
    ("net", CloneFlags::CLONE_NEWNET),
    ("mnt", CloneFlags::CLONE_NEWNS),
    ("pid", CloneFlags::CLONE_NEWPID),
];

#[derive(Debug, thiserror::Error)]
enum EnterError {
    #[error("notrunning the guest is not running")]
    NotRunning,
    #[error("notfound {0}")]
    NotFound(String),
    #[error("failed {0}")]
    Failed(String),
}

fn failed(what: &str) -> impl FnOnce(nix::Error) -> EnterError + '_ {
    move |e| EnterError::Failed(format!("{what}: {e}"))
}

pub fn enter_main(opts: Opts) -> i32 {
    if nix::fcntl::fcntl(STATUS_FD, nix::fcntl::FcntlArg::F_GETFD).is_err() {
        eprintln!("berth-shim enter: descriptor {STATUS_FD} (the status pipe) is not open");
        return 2;
    }
    // SAFETY: the daemon starts the helper with its status pipe on STATUS_FD and nothing else
    // in this process owns that descriptor.
    let mut status = File::from(unsafe { OwnedFd::from_raw_fd(STATUS_FD) });
    let line = match enter(&opts, &mut status) {
        Ok(code) => format!("exit {code}"),
        Err(e) => format!("error {}", e.to_string().replace('\n', " ")),
    };
    let _ = writeln!(status, "{line}");
    0
}

fn enter(opts: &Opts, status: &mut File) -> Result<i32, EnterError> {
    let paths = Paths::new(&opts.state_root, &opts.name);
    let init = paths.init().ok_or(EnterError::NotRunning)?;
    let program = opts
        .argv
        .first()
        .ok_or_else(|| EnterError::NotFound(String::new()))?;
    join_cgroups(init.pid)?;
    let bounding = bounding_set(init.pid)?;
    // An unprivileged guest: join its user namespace first and become its root, so the
    // command runs as the guest's ids and its file ownership is the guest's view.
    let userns = guest_userns(init.pid)?;
    let nesting = match &userns {
        Some(_) => Isolation::read(&paths)
            .map_err(|e| EnterError::Failed(e.to_string()))?
            .is_some_and(|i| i.nesting),
        None => true,
    };
    if userns.is_some() {
        own_terminal(init.pid);
    }
    let root = File::open(format!("/proc/{}/root", init.pid))
        .map_err(|e| EnterError::Failed(format!("init's root: {e}")))?;
    let mut fds = Vec::new();
    for (ns, flag) in NAMESPACES {
        let path = format!("/proc/{}/ns/{ns}", init.pid);
        let file = File::open(&path).map_err(|e| EnterError::Failed(format!("{path}: {e}")))?;
        fds.push((file, *flag));
    }
    if let Some(userns) = &userns {
        setns(userns.as_fd(), CloneFlags::CLONE_NEWUSER).map_err(failed("setns user"))?;
    }
    for (file, flag) in &fds {
        setns(file.as_fd(), *flag).map_err(failed("setns"))?;
    }
    fchdir(std::os::fd::AsRawFd::as_raw_fd(&root)).map_err(failed("fchdir"))?;
    chroot(".").map_err(failed("chroot"))?;
    if userns.is_some() {
        become_guest_root()?;
    }
    let env = environment(&opts.env);
    let path_var = env
        .iter()
        .find_map(|(k, v)| (k == "PATH").then_some(v.as_str()))
        .unwrap_or(DEFAULT_PATH);
    let resolved =
        resolve(program, path_var).ok_or_else(|| EnterError::NotFound(program.clone()))?;
    let argv = cstrings(opts.argv.iter().map(String::as_str))?;
    let envp = cstrings(
        env.iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .iter()
            .map(String::as_str),
    )?;
    let exe = CString::new(resolved).map_err(|_| EnterError::NotFound(program.clone()))?;
    let cwd = opts.cwd.clone().unwrap_or_else(|| "/".to_owned());
    let (err_rx, err_tx) =
        nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(failed("pipe"))?;
    // SAFETY: the helper is single-threaded; the child only chdirs, drops capabilities and
    // execs, reporting a failure on a pipe before `_exit`.
    match unsafe { fork() }.map_err(failed("fork"))? {
        ForkResult::Child => {
            drop(err_rx);
            let mut err_tx = File::from(err_tx);
            let _ = nix::unistd::setsid();
            let outcome = std::env::set_current_dir(&cwd)
                .map_err(|e| format!("cwd {cwd}: {e}"))
                .and_then(|()| deny_syscalls(userns.is_none(), nesting))
                .and_then(|()| limit_capabilities(bounding))
                .and_then(|()| {
                    nix::unistd::execve(&exe, &argv, &envp)
                        .map(|_| ())
                        .map_err(|e| format!("exec {}: {e}", exe.to_string_lossy()))
                });
            let _ = err_tx.write_all(outcome.err().unwrap_or_default().as_bytes());
            // SAFETY: _exit ends the forked child without running the parent's destructors.
            unsafe { libc::_exit(127) }
        }
        ForkResult::Parent { child } => {
            drop(err_tx);
            let mut why = String::new();
            let _ = File::from(err_rx).read_to_string(&mut why);
            if !why.is_empty() {
                let _ = waitpid(child, None);
                return Err(EnterError::Failed(why));
            }
            let _ = writeln!(status, "pid {child}");
            let _ = status.flush();
            loop {
                match waitpid(child, None) {
                    Ok(WaitStatus::Exited(_, code)) => return Ok(code),
                    Ok(WaitStatus::Signaled(_, sig, _)) => return Ok(128 + sig as i32),
                    Ok(_) | Err(nix::Error::EINTR) => {}
                    Err(e) => return Err(EnterError::Failed(format!("wait: {e}"))),
                }
            }
        }
    }
}

/// Joins init's own cgroup in every hierarchy (on v2 that is a leaf below the guest's root,
/// which holds no processes once the guest's systemd runs).
fn join_cgroups(init: i32) -> Result<(), EnterError> {
    let layout = Layout::detect().map_err(|e| EnterError::Failed(e.to_string()))?;
    let pid = init.to_string();
    let hierarchies: Vec<(std::path::PathBuf, String)> = match &layout {
        Layout::V2(root) => vec![(root.clone(), String::new())],
        Layout::V1(hs) => hs
            .iter()
            .map(|h| {
                let key = if h.is_unified() {
                    String::new()
                } else {
                    h.controllers.first().cloned().unwrap_or_default()
                };
                (h.mount.clone(), key)
            })
            .collect(),
    };
    for (mount, key) in hierarchies {
        let Ok(path) = cgroup::process_cgroup(&pid, &key) else {
            continue;
        };
        cgroup::enter(&mount.join(path.trim_start_matches('/')))
            .map_err(|e| EnterError::Failed(e.to_string()))?;
    }
    Ok(())
}

/// Init's capability bounding set, from `/proc/PID/status`.
fn bounding_set(pid: i32) -> Result<u64, EnterError> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .map_err(|e| EnterError::Failed(format!("init's status: {e}")))?;
    text.lines()
        .find_map(|l| l.strip_prefix("CapBnd:"))
        .and_then(|hex| u64::from_str_radix(hex.trim(), 16).ok())
        .ok_or_else(|| EnterError::Failed("init's status has no CapBnd".into()))
}

/// Drops every capability outside `bounding` from all of this process's sets.
fn limit_capabilities(bounding: u64) -> Result<(), String> {
    use caps::CapSet;
    let keep: caps::CapsHashSet = caps::all()
        .into_iter()
        .filter(|c| bounding & c.bitmask() != 0)
        .collect();
    for cap in caps::all().into_iter().filter(|c| !keep.contains(c)) {
        caps::drop(None, CapSet::Bounding, cap).map_err(|e| format!("drop {cap}: {e}"))?;
    }
    caps::clear(None, CapSet::Ambient).map_err(|e| e.to_string())?;
    // Effective first: it must stay within the permitted set at every step.
    for set in [CapSet::Effective, CapSet::Permitted, CapSet::Inheritable] {
        let now = caps::read(None, set).map_err(|e| e.to_string())?;
        let limited: caps::CapsHashSet = now.intersection(&keep).copied().collect();
        caps::set(None, set, &limited).map_err(|e| format!("capabilities: {e}"))?;
    }
    Ok(())
}

/// The guest's user namespace when it is not ours (an unprivileged guest), else `None`.
fn guest_userns(init: i32) -> Result<Option<File>, EnterError> {
    use std::os::unix::fs::MetadataExt;
    let path = format!("/proc/{init}/ns/user");
    let theirs = File::open(&path).map_err(|e| EnterError::Failed(format!("{path}: {e}")))?;
    let ours = std::fs::metadata("/proc/self/ns/user")
        .map_err(|e| EnterError::Failed(format!("own user namespace: {e}")))?;
    let meta = theirs
        .metadata()
        .map_err(|e| EnterError::Failed(format!("{path}: {e}")))?;
    let same = (meta.dev(), meta.ino()) == (ours.dev(), ours.ino());
    Ok((!same).then_some(theirs))
}

/// Root (uid and gid 0, no supplementary groups) in the user namespace just joined: the
/// guest's root, a host id of its range — never the host's root with the guest's powers.
fn become_guest_root() -> Result<(), EnterError> {
    use nix::unistd::{Gid, Uid, setgroups, setresgid, setresuid};
    setgroups(&[]).map_err(failed("setgroups"))?;
    let (g, u) = (Gid::from_raw(0), Uid::from_raw(0));
    setresgid(g, g, g).map_err(failed("setresgid"))?;
    setresuid(u, u, u).map_err(failed("setresuid"))
}

/// Gives a terminal on stdin (a pty from the guest's devpts) to the guest's root and `tty`
/// group, as the guest's own `login` would; best effort (an exec has no terminal).
fn own_terminal(init: i32) {
    let host_of = |file: &str, guest: u32| -> Option<u32> {
        let map = std::fs::read_to_string(format!("/proc/{init}/{file}")).ok()?;
        map.lines().find_map(|l| {
            let f: Vec<u32> = l
                .split_whitespace()
                .filter_map(|x| x.parse().ok())
                .collect();
            match f[..] {
                [inside, outside, count]
                    if (inside..inside.saturating_add(count)).contains(&guest) =>
                {
                    Some(outside + (guest - inside))
                }
                _ => None,
            }
        })
    };
    if !nix::unistd::isatty(0).unwrap_or(false) {
        return;
    }
    if let (Some(uid), Some(gid)) = (host_of("uid_map", 0), host_of("gid_map", 5)) {
        let _ = nix::unistd::fchown(
            0,
            Some(nix::unistd::Uid::from_raw(uid)),
            Some(nix::unistd::Gid::from_raw(gid)),
        );
    }
}

/// Loads the guest's syscall deny list (module loading, kexec, open_by_handle_at; for an
/// unprivileged guest also the keyring, bpf, … and, without nesting, new user namespaces)
/// before capabilities are dropped, as every guest process has it there.
fn deny_syscalls(privileged: bool, nesting: bool) -> Result<(), String> {
    let filter: oci_spec::runtime::LinuxSeccomp =
        serde_json::from_value(super::security::seccomp(privileged, nesting))
            .map_err(|e| e.to_string())?;
    libcontainer::seccomp::initialize_seccomp(&filter)
        .map(|_| ())
        .map_err(|e| format!("seccomp: {e}"))
}

/// The command's environment: a default PATH, HOME and TERM unless given.
fn environment(given: &[(String, String)]) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = given.to_vec();
    for (k, v) in [("PATH", DEFAULT_PATH), ("HOME", "/root"), ("TERM", "xterm")] {
        if !env.iter().any(|(key, _)| key == k) {
            env.push((k.to_owned(), v.to_owned()));
        }
    }
    env
}

/// `program` as given when it holds a `/`, else the first executable of that name on `path`
/// (inside the guest: the helper has chrooted into it).
fn resolve(program: &str, path: &str) -> Option<String> {
    use std::os::unix::fs::PermissionsExt;
    let executable = |p: &Path| {
        std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    };
    if program.contains('/') {
        return executable(Path::new(program)).then(|| program.to_owned());
    }
    path.split(':')
        .filter(|d| !d.is_empty())
        .map(|d| Path::new(d).join(program))
        .find(|p| executable(p))
        .map(|p| p.to_string_lossy().into_owned())
}

fn cstrings<'a>(items: impl Iterator<Item = &'a str>) -> Result<Vec<CString>, EnterError> {
    items
        .map(|s| CString::new(s).map_err(|_| EnterError::Failed(format!("NUL in {s:?}"))))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_on_path_and_keeps_paths() {
        assert_eq!(
            resolve("sh", "/nonexistent:/bin").as_deref(),
            Some("/bin/sh")
        );
        assert_eq!(resolve("/bin/sh", "").as_deref(), Some("/bin/sh"));
        assert_eq!(resolve("no-such-program-here", DEFAULT_PATH), None);
    }

    #[test]
    fn environment_fills_defaults_only() {
        let env = environment(&[("PATH".into(), "/x".into())]);
        assert!(env.contains(&("PATH".into(), "/x".into())));
        assert!(env.iter().any(|(k, _)| k == "HOME"));
    }
}
