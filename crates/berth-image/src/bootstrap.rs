//! Running mmdebstrap (or debootstrap when it is missing) to lay down a minbase system, inside a
//! private mount and PID namespace (`unshare --kill-child`): the bootstrapper's bind mounts
//! never show on the host, and killing it ends every process it started.

use std::collections::VecDeque;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use tokio::io::{AsyncBufReadExt, BufReader};
use tracing::{debug, info};

use crate::catalog::Source;
use berth_storage::cmd;

#[derive(Debug, thiserror::Error)]
pub enum BootstrapError {
    #[error("neither mmdebstrap nor debootstrap is installed (apt install mmdebstrap)")]
    NoTool,
    #[error("unshare (util-linux) is not installed")]
    NoUnshare,
    #[error("the keyring {} is missing (apt install {package})", path.display())]
    NoKeyring {
        path: PathBuf,
        package: &'static str,
    },
    #[error("cannot run {tool}")]
    Spawn {
        tool: &'static str,
        #[source]
        source: std::io::Error,
    },
    #[error("{tool} failed ({status}): {output}")]
    Failed {
        tool: &'static str,
        status: std::process::ExitStatus,
        output: String,
    },
}

/// mmdebstrap's hook that sets merged-/usr up by installing `usr-is-merged` where the release
/// has it: without it bookworm pulls in `usrmerge` and, with it, 47 MiB of perl.
pub const MAYBE_MERGED_USR: &str = "/usr/share/mmdebstrap/hooks/maybe-merged-usr";

/// The program that lays down the base system.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tool {
    Mmdebstrap(PathBuf),
    Debootstrap(PathBuf),
}

impl Tool {
    /// mmdebstrap when installed, else debootstrap.
    pub fn detect() -> Result<Self, BootstrapError> {
        if let Some(path) = cmd::which("mmdebstrap") {
            return Ok(Self::Mmdebstrap(path));
        }
        cmd::which("debootstrap")
            .map(Self::Debootstrap)
            .ok_or(BootstrapError::NoTool)
    }

    pub fn name(&self) -> &'static str {
        match self {
            Self::Mmdebstrap(_) => "mmdebstrap",
            Self::Debootstrap(_) => "debootstrap",
        }
    }

    /// The full command line (after `unshare … --`) that builds `source` into `target`.
    pub fn args(&self, source: &Source, target: &Path) -> Vec<OsString> {
        let include = format!("--include={}", source.packages().join(","));
        let keyring = format!("--keyring={}", source.keyring.display());
        let arch = format!("--arch={}", source.arch.as_str());
        let mut args: Vec<OsString> = Vec::new();
        match self {
            Self::Mmdebstrap(path) => {
                args.push(path.into());
                for flag in [
                    "--mode=root",
                    "--variant=minbase",
                    "--format=directory",
                    &arch,
                    &include,
                    &keyring,
                    "--aptopt=Acquire::Retries \"3\"",
                    "--dpkgopt=force-unsafe-io",
                ] {
                    args.push(flag.into());
                }
                if Path::new(MAYBE_MERGED_USR).is_dir() {
                    args.push(format!("--hook-dir={MAYBE_MERGED_USR}").into());
                }
                args.push(source.suite.into());
                args.push(target.into());
                args.extend(source.apt_lines().into_iter().map(OsString::from));
            }
            Self::Debootstrap(path) => {
                args.push(path.into());
                let components = format!("--components={}", source.components.join(","));
                for flag in ["--variant=minbase", &arch, &include, &components, &keyring] {
                    args.push(flag.into());
                }
                args.push(source.suite.into());
                args.push(target.into());
                args.push(source.mirror.clone().into());
            }
        }
        args
    }
}

/// `unshare` flags: own mount (private) and PID namespaces; unshare's death kills the child,
/// which as PID 1 of the namespace takes every other process with it.
pub const UNSHARE: &[&str] = &[
    "--mount",
    "--propagation",
    "private",
    "--pid",
    "--fork",
    "--kill-child",
    "--",
];

/// Lines of output kept for the error message.
const TAIL: usize = 30;

/// Runs `tool` for `source` into `target` (which must not exist), calling `progress` with each
/// step the tool announces (`running apt-get update`, `extracting archives`, …).
pub async fn run(
    tool: &Tool,
    source: &Source,
    target: &Path,
    progress: &mut (dyn FnMut(String) + Send),
) -> Result<(), BootstrapError> {
    if !source.keyring.exists() {
        return Err(BootstrapError::NoKeyring {
            path: source.keyring.clone(),
            package: source.keyring_package,
        });
    }
    let unshare = cmd::which("unshare").ok_or(BootstrapError::NoUnshare)?;
    let args = tool.args(source, target);
    info!(tool = tool.name(), image = %source.image, target = %target.display(), "bootstrapping");
    debug!(?args, "bootstrap command");
    let mut child = tokio::process::Command::new(unshare)
        .args(UNSHARE)
        .args(&args)
        .env("LC_ALL", "C.UTF-8")
        .env("DEBIAN_FRONTEND", "noninteractive")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .process_group(0)
        .spawn()
        .map_err(|source| BootstrapError::Spawn {
            tool: tool.name(),
            source,
        })?;
    let mut out = child.stdout.take().map(|s| BufReader::new(s).lines());
    let mut err = child.stderr.take().map(|s| BufReader::new(s).lines());
    let mut tail = VecDeque::with_capacity(TAIL);
    while out.is_some() || err.is_some() {
        let (line, from_stdout) = tokio::select! {
            line = next(&mut out), if out.is_some() => (line, true),
            line = next(&mut err), if err.is_some() => (line, false),
        };
        let Some(line) = line else {
            if from_stdout {
                out = None;
            } else {
                err = None;
            }
            continue;
        };
        debug!(tool = tool.name(), "{line}");
        if let Some(step) = step_of(&line) {
            progress(step);
        }
        if tail.len() == TAIL {
            tail.pop_front();
        }
        tail.push_back(line);
    }
    let status = child.wait().await.map_err(|source| BootstrapError::Spawn {
        tool: tool.name(),
        source,
    })?;
    if !status.success() {
        let tail: Vec<String> = tail.into();
        return Err(BootstrapError::Failed {
            tool: tool.name(),
            status,
            output: cmd::last_lines(&errors_first(&tail), 6),
        });
    }
    Ok(())
}

type Lines<R> = tokio::io::Lines<BufReader<R>>;

async fn next<R: tokio::io::AsyncRead + Unpin>(lines: &mut Option<Lines<R>>) -> Option<String> {
    match lines {
        Some(lines) => lines.next_line().await.ok().flatten(),
        None => None,
    }
}

/// The step an output line announces: mmdebstrap's and debootstrap's `I: …` lines, trimmed
/// and lower-cased at the start (`I: running apt-get update...` → `running apt-get update`).
pub fn step_of(line: &str) -> Option<String> {
    let text = line
        .strip_prefix("I: ")?
        .trim()
        .trim_end_matches("...")
        .trim();
    let noise = ["success in", "automatically chosen", "running --"];
    if text.is_empty() || noise.iter().any(|n| text.starts_with(n)) {
        return None;
    }
    let mut chars = text.chars();
    let first = chars.next()?;
    Some(first.to_lowercase().chain(chars).collect())
}

/// The tail with `E:`/`W:` lines moved to the end, so the error shows them.
fn errors_first(tail: &[String]) -> String {
    let (errors, rest): (Vec<&String>, Vec<&String>) = tail
        .iter()
        .partition(|l| l.starts_with("E: ") || l.starts_with("W: "));
    rest.into_iter()
        .chain(errors)
        .map(String::as_str)
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_are_shown_last() {
        let tail = vec!["E: boom".to_owned(), "I: cleaning".to_owned()];
        assert_eq!(errors_first(&tail), "I: cleaning\nE: boom");
    }
}
