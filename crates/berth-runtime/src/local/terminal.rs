//! Daemon side of interactive sessions: a pty pair, the `berthd shim enter` helper with the slave
//! as its stdio, and `setsid -c -w` inside the guest so the command leads a new session whose
//! controlling terminal is that pty (job control, SIGWINCH on resize, ^C to the foreground).

use std::collections::BTreeMap;
use std::os::fd::OwnedFd;
use std::process::Stdio;

use std::os::fd::{AsRawFd, FromRawFd};

use nix::fcntl::OFlag;
use tokio::io::AsyncBufReadExt;

use super::LocalConfig;
use super::exec::hand_over_status_pipe;
use super::failed;
use super::guest::RunningGuest;
use super::invoke::enter_command;
use crate::{RuntimeError, TerminalSession, TerminalSpec};

struct Pty {
    master: OwnedFd,
    slave: OwnedFd,
}

#[derive(Debug, thiserror::Error)]
pub enum TerminalError {
    #[error("cannot allocate a pty: {0}")]
    Pty(nix::Error),
    #[error("cannot start the exec helper: {0}")]
    Spawn(std::io::Error),
}

/// A pty pair from the guest's own devpts (its `/dev/pts/ptmx`), so the guest sees the slave
/// as one of its `/dev/pts/N` (`tty`, `ttyname`, sudo work). The lookup stays inside the
/// guest's root and follows no symlinks; the node must be the ptmx device.
fn guest_pty(init_pid: i32) -> Result<(OwnedFd, OwnedFd), TerminalError> {
    use rustix::fs::{Mode, OFlags, ResolveFlags};
    let root = rustix::fs::open(
        format!("/proc/{init_pid}/root"),
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| TerminalError::Spawn(e.into()))?;
    let master = rustix::fs::openat2(
        &root,
        "dev/pts/ptmx",
        OFlags::RDWR | OFlags::NOCTTY | OFlags::CLOEXEC,
        Mode::empty(),
        ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS | ResolveFlags::NO_SYMLINKS,
    )
    .map_err(|e| TerminalError::Spawn(e.into()))?;
    let st = rustix::fs::fstat(&master).map_err(|e| TerminalError::Spawn(e.into()))?;
    let is_ptmx = rustix::fs::FileType::from_raw_mode(st.st_mode)
        == rustix::fs::FileType::CharacterDevice
        && rustix::fs::major(st.st_rdev) == 5
        && rustix::fs::minor(st.st_rdev) == 2;
    if !is_ptmx {
        return Err(TerminalError::Spawn(std::io::Error::other(
            "the guest's /dev/pts/ptmx is not the pty multiplexer",
        )));
    }
    let unlock: libc::c_int = 0;
    // SAFETY: TIOCSPTLCK reads one int from the pointer, valid for the call; `master` is an
    // open ptmx descriptor.
    if unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCSPTLCK, &unlock) } < 0 {
        return Err(TerminalError::Spawn(std::io::Error::last_os_error()));
    }
    // SAFETY: TIOCGPTPEER takes open flags by value and returns a new descriptor for the
    // slave, which we own from here on.
    let slave = unsafe {
        libc::ioctl(
            master.as_raw_fd(),
            libc::TIOCGPTPEER,
            libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC,
        )
    };
    if slave < 0 {
        return Err(TerminalError::Spawn(std::io::Error::last_os_error()));
    }
    // SAFETY: `slave` was just returned by the kernel and nothing else owns it.
    Ok((master, unsafe { OwnedFd::from_raw_fd(slave) }))
}

/// Starts `spec` on a pty in `guest` through `berthd shim enter`.
pub async fn open_in(
    guest: &RunningGuest<'_>,
    spec: &TerminalSpec,
) -> Result<TerminalSession, RuntimeError> {
    open(guest.config, guest.name.as_str(), guest.init, spec)
        .await
        .map_err(|e| failed(guest.name, "terminal", e))
}

async fn open(
    cfg: &LocalConfig,
    name: &str,
    init_pid: i32,
    spec: &TerminalSpec,
) -> Result<TerminalSession, TerminalError> {
    let (master, slave) = guest_pty(init_pid)?;
    crate::terminal::set_size(&master, spec.rows, spec.cols).map_err(TerminalError::Spawn)?;
    let pty = Pty { master, slave };
    let (status_rx, status_tx) =
        nix::unistd::pipe2(OFlag::O_CLOEXEC).map_err(TerminalError::Pty)?;
    let mut argv = vec!["setsid".to_owned(), "-c".to_owned(), "-w".to_owned()];
    argv.extend(spec.argv.iter().cloned());
    let env: BTreeMap<String, String> = spec.env.iter().cloned().collect();
    let mut cmd = enter_command(cfg, name, spec.cwd.as_deref(), &env, &argv);
    let stdio = |fd: &OwnedFd| fd.try_clone().map(Stdio::from);
    cmd.stdin(stdio(&pty.slave).map_err(TerminalError::Spawn)?)
        .stdout(stdio(&pty.slave).map_err(TerminalError::Spawn)?)
        .stderr(stdio(&pty.slave).map_err(TerminalError::Spawn)?);
    hand_over_status_pipe(&mut cmd, &status_tx);
    let mut child = cmd.spawn().map_err(TerminalError::Spawn)?;
    drop(status_tx);
    drop(pty.slave);
    tracing::debug!(instance = name, argv = ?spec.argv, "terminal session");

    let (exit_tx, exit_rx) = tokio::sync::oneshot::channel();
    let mut status =
        tokio::io::BufReader::new(tokio::fs::File::from_std(std::fs::File::from(status_rx)))
            .lines();
    tokio::spawn(async move {
        let mut last = None;
        while let Ok(Some(line)) = status.next_line().await {
            last = Some(line);
        }
        let _ = child.wait().await;
        let code = last
            .as_deref()
            .and_then(|l| l.strip_prefix("exit "))
            .and_then(|c| c.trim().parse().ok())
            .unwrap_or(-1);
        let _ = exit_tx.send(code);
    });
    TerminalSession::on_pty(pty.master, exit_rx).map_err(TerminalError::Spawn)
}
