//! Running a host tool for one guest (`lxc-* -P <lxcpath> -n <name> …`, `crun run …`),
//! collecting its output (capped, with a timeout) or on a pseudo-terminal the daemon holds
//! the master of.

use std::os::fd::OwnedFd;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::process::Command;

use crate::builtin::exec::{Output, join_output, read_capped};
use crate::{ExecResult, TerminalSession};

#[derive(Debug, thiserror::Error)]
pub enum ToolError {
    #[error("cannot run {program}: {source}")]
    Spawn {
        program: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{program} timed out")]
    Timeout { program: String },
    #[error("cannot allocate a pty: {0}")]
    Pty(nix::Error),
}

/// `program -P lxcpath -n name args…`.
pub fn command(program: &Path, lxcpath: &Path, name: &str, args: &[&str]) -> Command {
    let mut cmd = Command::new(program);
    cmd.arg("-P")
        .arg(lxcpath)
        .arg("-n")
        .arg(name)
        .args(args)
        .kill_on_drop(true);
    cmd
}

/// Runs `cmd` to its end, feeding `stdin`, keeping `cap` bytes of each output stream.
pub async fn collect(
    mut cmd: Command,
    stdin: Option<&[u8]>,
    cap: usize,
    timeout: Duration,
) -> Result<ExecResult, ToolError> {
    let program = format!("{:?}", cmd.as_std().get_program());
    cmd.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let mut child = cmd.spawn().map_err(|source| ToolError::Spawn {
        program: program.clone(),
        source,
    })?;
    if let (Some(mut pipe), Some(input)) = (child.stdin.take(), stdin) {
        let input = input.to_vec();
        tokio::spawn(async move {
            let _ = pipe.write_all(&input).await;
        });
    }
    let (out_buf, err_buf) = (Output::default(), Output::default());
    let out = tokio::spawn(read_capped(child.stdout.take(), cap, out_buf.clone()));
    let err = tokio::spawn(read_capped(child.stderr.take(), cap, err_buf.clone()));
    let status = match tokio::time::timeout(timeout, child.wait()).await {
        Ok(status) => status.map_err(|source| ToolError::Spawn {
            program: program.clone(),
            source,
        })?,
        Err(_) => {
            let _ = child.kill().await;
            out.abort();
            err.abort();
            return Err(ToolError::Timeout { program });
        }
    };
    let (stdout, t1) = join_output(out, out_buf).await;
    let (stderr, t2) = join_output(err, err_buf).await;
    use std::os::unix::process::ExitStatusExt;
    let exit_code = status
        .code()
        .or_else(|| status.signal().map(|s| 128 + s))
        .unwrap_or(-1);
    Ok(ExecResult {
        exit_code,
        stdout,
        stderr,
        truncated: t1 || t2,
    })
}

/// Runs `cmd` as a session leader with a new pty as its controlling terminal; the session's
/// exit code is the command's.
pub fn on_pty(mut cmd: Command, rows: u16, cols: u16) -> Result<TerminalSession, ToolError> {
    let pty = nix::pty::openpty(None, None).map_err(ToolError::Pty)?;
    let (master, slave): (OwnedFd, OwnedFd) = (pty.master, pty.slave);
    crate::terminal::set_size(&master, rows, cols)
        .map_err(|e| ToolError::Pty(nix::Error::from_raw(e.raw_os_error().unwrap_or(0))))?;
    let program = format!("{:?}", cmd.as_std().get_program());
    let stdio = |fd: &OwnedFd| {
        fd.try_clone()
            .map(Stdio::from)
            .map_err(|source| ToolError::Spawn {
                program: program.clone(),
                source,
            })
    };
    cmd.stdin(stdio(&slave)?)
        .stdout(stdio(&slave)?)
        .stderr(stdio(&slave)?);
    // SAFETY: between fork and exec only setsid(2) and ioctl(2) run, both async-signal-safe;
    // descriptor 0 is the pty slave set up above.
    unsafe {
        cmd.pre_exec(|| {
            if libc::setsid() < 0 || libc::ioctl(0, libc::TIOCSCTTY, 0) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = cmd
        .spawn()
        .map_err(|source| ToolError::Spawn { program, source })?;
    drop(slave);
    let (exit_tx, exit_rx) = tokio::sync::oneshot::channel();
    tokio::spawn(async move {
        let code = child.wait().await.ok().and_then(|s| s.code()).unwrap_or(-1);
        let _ = exit_tx.send(code);
    });
    TerminalSession::on_pty(master, exit_rx).map_err(|source| ToolError::Spawn {
        program: "pty".into(),
        source,
    })
}
