//! Running host tools (`btrfs`, `mount`, `losetup`, `chroot`, `cp`) with their output kept for
//! the error; children are killed when the future running them is dropped.

use std::ffi::OsStr;
use std::path::Path;
use std::process::Stdio;

use tracing::debug;

#[derive(Debug, thiserror::Error)]
pub enum CmdError {
    #[error("cannot run {program}")]
    Spawn {
        program: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{command} failed ({status}): {stderr}")]
    Failed {
        command: String,
        status: std::process::ExitStatus,
        stderr: String,
    },
}

/// Runs `program args…`, returning its stdout; a non-zero exit is an error carrying stderr.
pub async fn run<I, S>(program: &str, args: I) -> Result<String, CmdError>
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let args: Vec<_> = args.into_iter().map(|a| a.as_ref().to_owned()).collect();
    let command = std::iter::once(program.to_owned())
        .chain(args.iter().map(|a| a.to_string_lossy().into_owned()))
        .collect::<Vec<_>>()
        .join(" ");
    debug!(%command, "running");
    // Root's tools live in sbin, which a daemon's PATH may lack.
    let resolved = which(program).unwrap_or_else(|| program.into());
    let output = tokio::process::Command::new(resolved)
        .args(&args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .output()
        .await
        .map_err(|source| CmdError::Spawn {
            program: program.to_owned(),
            source,
        })?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let stderr = stderr.trim();
        let stderr = if stderr.is_empty() {
            String::from_utf8_lossy(&output.stdout).trim().to_owned()
        } else {
            stderr.to_owned()
        };
        return Err(CmdError::Failed {
            command,
            status: output.status,
            stderr: last_lines(&stderr, 8),
        });
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// The last `n` lines of `text`, joined with "; ".
pub fn last_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(n)..].join("; ")
}

/// The first executable called `name` in `$PATH` (and the sbin directories root uses).
pub fn which(name: &str) -> Option<std::path::PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/local/sbin", "/usr/sbin", "/sbin", "/usr/bin", "/bin"].map(Into::into))
        .map(|dir| dir.join(name))
        .find(|candidate| is_executable(candidate))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}
