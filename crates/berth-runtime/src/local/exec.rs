//! Daemon side of `exec`: starts the `berthd shim enter` helper with piped stdio and a status
//! pipe, feeds stdin, collects capped output, enforces the timeout and reads the exit code.
//! The helper reports on descriptor 3: `pid N` once the command runs, then `exit CODE`, or
//! `error notrunning|notfound|failed MESSAGE`.

use std::os::fd::AsRawFd;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use nix::fcntl::OFlag;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::process::Command;

use super::LocalConfig;
use super::failed;
use super::guest::RunningGuest;
use super::invoke::enter_command;
use crate::{ExecResult, ExecSpec, RuntimeError};

/// The descriptor the daemon hands the helper its status pipe on.
pub const STATUS_FD: i32 = 3;

#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    #[error("the guest is not running")]
    NotRunning,
    #[error("command not found: {0}")]
    NotFound(String),
    #[error("timed out")]
    Timeout,
    #[error("{0}")]
    Failed(String),
}

impl From<std::io::Error> for ExecError {
    fn from(e: std::io::Error) -> Self {
        ExecError::Failed(e.to_string())
    }
}

/// How long output is still read after the command exited (background children may keep the
/// pipes open).
const DRAIN_GRACE: Duration = Duration::from_millis(300);

/// Runs `spec` in `guest` through `berthd shim enter`.
pub async fn run_in(guest: &RunningGuest<'_>, spec: &ExecSpec) -> Result<ExecResult, RuntimeError> {
    let name = guest.name;
    run(guest.config, name.as_str(), spec)
        .await
        .map_err(|e| match e {
            ExecError::NotRunning => RuntimeError::NotRunning(name.clone()),
            ExecError::NotFound(cmd) => RuntimeError::CommandNotFound(cmd),
            ExecError::Timeout => RuntimeError::ExecTimeout(spec.timeout.as_secs()),
            ExecError::Failed(reason) => failed(name, "exec", reason),
        })
}

/// Runs `exec` through `berthd shim enter`, which speaks the status-pipe protocol.
async fn run(cfg: &LocalConfig, name: &str, exec: &ExecSpec) -> Result<ExecResult, ExecError> {
    let (status_rx, status_tx) =
        nix::unistd::pipe2(OFlag::O_CLOEXEC).map_err(|e| ExecError::Failed(e.to_string()))?;
    let mut cmd = enter_command(cfg, name, exec.cwd.as_deref(), &exec.env, &exec.argv);
    cmd.stdin(if exec.stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    hand_over_status_pipe(&mut cmd, &status_tx);
    let mut child = cmd.spawn()?;
    tracing::debug!(instance = name, argv = ?exec.argv, "exec");
    drop(status_tx);
    let mut status =
        BufReader::new(tokio::fs::File::from_std(std::fs::File::from(status_rx))).lines();

    if let Some(mut stdin) = child.stdin.take() {
        let input = exec.stdin.clone().unwrap_or_default();
        tokio::spawn(async move {
            let _ = stdin.write_all(&input).await;
        });
    }
    let cap = exec.output_cap;
    let (out_buf, err_buf) = (Output::default(), Output::default());
    let out = tokio::spawn(read_capped(child.stdout.take(), cap, out_buf.clone()));
    let err = tokio::spawn(read_capped(child.stderr.take(), cap, err_buf.clone()));

    let mut command_pid = None;
    let mut last = None;
    let waited = tokio::time::timeout(exec.timeout, async {
        while let Ok(Some(line)) = status.next_line().await {
            if let Some(pid) = line.strip_prefix("pid ") {
                command_pid = pid.trim().parse::<i32>().ok();
            } else {
                last = Some(line);
            }
        }
        child.wait().await
    })
    .await;
    if waited.is_err() {
        if let Some(pid) = command_pid {
            // The command is a session leader inside; kill its whole group, then itself.
            let _ = kill(Pid::from_raw(-pid), Signal::SIGKILL);
            let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
        }
        let _ = child.kill().await;
        out.abort();
        err.abort();
        return Err(ExecError::Timeout);
    }
    let (stdout, t1) = join_output(out, out_buf).await;
    let (stderr, t2) = join_output(err, err_buf).await;
    let line = last.unwrap_or_default();
    if let Some(code) = line.strip_prefix("exit ") {
        let exit_code = code
            .trim()
            .parse()
            .map_err(|_| ExecError::Failed(format!("bad helper status {line:?}")))?;
        return Ok(ExecResult {
            exit_code,
            stdout,
            stderr,
            truncated: t1 || t2,
        });
    }
    let reason = line.strip_prefix("error ").unwrap_or(&line);
    Err(match reason.split_once(' ') {
        Some(("notrunning", _)) => ExecError::NotRunning,
        Some(("notfound", cmd)) => ExecError::NotFound(cmd.to_owned()),
        Some((_, msg)) => ExecError::Failed(msg.to_owned()),
        None if reason.is_empty() => {
            ExecError::Failed(String::from_utf8_lossy(&stderr).trim().to_owned())
        }
        None => ExecError::Failed(reason.to_owned()),
    })
}

/// Puts the write end of the status pipe on [`STATUS_FD`] in the helper.
pub(super) fn hand_over_status_pipe(cmd: &mut Command, status_tx: &impl AsRawFd) {
    let tx_raw = status_tx.as_raw_fd();
    // SAFETY: the closure runs between fork and exec and only calls async-signal-safe
    // functions (dup2, fcntl) on descriptors that stay open until the spawn returns.
    unsafe {
        cmd.pre_exec(move || {
            if tx_raw == STATUS_FD {
                let flags = libc::fcntl(STATUS_FD, libc::F_GETFD);
                libc::fcntl(STATUS_FD, libc::F_SETFD, flags & !libc::FD_CLOEXEC);
            } else if libc::dup2(tx_raw, STATUS_FD) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

pub(super) type Output = Arc<Mutex<(Vec<u8>, bool)>>;

/// Reads a stream to its end into `into`, keeping at most `cap` bytes and noting any dropped.
pub(super) async fn read_capped(stream: Option<impl AsyncRead + Unpin>, cap: usize, into: Output) {
    let Some(mut stream) = stream else {
        return;
    };
    let mut buf = [0u8; 8192];
    while let Ok(n) = stream.read(&mut buf).await {
        if n == 0 {
            break;
        }
        let mut out = into.lock().unwrap_or_else(|p| p.into_inner());
        let room = cap.saturating_sub(out.0.len());
        out.0.extend_from_slice(&buf[..n.min(room)]);
        out.1 |= n > room;
    }
}

/// Waits a short grace for the reader to finish, then takes what it has.
pub(super) async fn join_output(task: tokio::task::JoinHandle<()>, out: Output) -> (Vec<u8>, bool) {
    let abort = task.abort_handle();
    if tokio::time::timeout(DRAIN_GRACE, task).await.is_err() {
        abort.abort();
    }
    let mut out = out.lock().unwrap_or_else(|p| p.into_inner());
    std::mem::take(&mut *out)
}
