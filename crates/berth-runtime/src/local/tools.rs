//! Running a host tool for one guest (`lxc-* -P <lxcpath> -n <name> …`, `crun run …`),
//! collecting its output (capped, with a timeout) or on a pseudo-terminal the daemon holds
//! the master of.

use std::os::fd::OwnedFd;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::process::Command;

use super::exec::{Output, join_output, read_capped};
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
            // The tool's children (lxc-attach's attached command, in the guest's namespaces
            // but our descendants) would outlive it: kill the whole tree, leaves first.
            if let Some(pid) = child.id() {
                kill_tree(pid as i32);
            }
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

/// SIGKILLs every descendant of `root` (read from /proc), deepest first.
fn kill_tree(root: i32) {
    let mut parents: Vec<(i32, i32)> = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let stat = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
        // The field after the command name, which may hold spaces and parentheses.
        let ppid = stat
            .rfind(')')
            .and_then(|i| stat[i + 1..].split_whitespace().nth(1))
            .and_then(|p| p.parse::<i32>().ok());
        if let Some(ppid) = ppid {
            parents.push((pid, ppid));
        }
    }
    let mut tree = vec![root];
    let mut i = 0;
    while i < tree.len() {
        let parent = tree[i];
        tree.extend(
            parents
                .iter()
                .filter(|(_, p)| *p == parent)
                .map(|(c, _)| *c),
        );
        i += 1;
    }
    for pid in tree.into_iter().skip(1).rev() {
        // SAFETY: kill(2) has no memory-safety preconditions.
        unsafe { libc::kill(pid, libc::SIGKILL) };
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_timeout_kills_the_tools_children_too() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let file = dir.path().join("pid");
        let mut cmd = Command::new("sh");
        cmd.arg("-c")
            .arg(format!("sleep 300 & echo $! > {}; wait", file.display()));
        let result = collect(cmd, None, 1024, Duration::from_millis(500)).await;
        assert!(matches!(result, Err(ToolError::Timeout { .. })));
        let pid: i32 = std::fs::read_to_string(&file)?.trim().parse()?;
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        // Gone, or a zombie waiting for init to reap it.
        let alive = || {
            std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
                !s.rsplit(')')
                    .next()
                    .unwrap_or("")
                    .trim_start()
                    .starts_with('Z')
            })
        };
        while alive() && std::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(!alive(), "the tool's child {pid} outlived the timeout");
        Ok(())
    }
}
