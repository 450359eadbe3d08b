//! Running mmdebstrap (or debootstrap when it is missing) to lay down a minbase system, inside a
//! private mount and PID namespace (`unshare --kill-child`): the bootstrapper's bind mounts
//! never show on the host, and killing it ends every process it started. mmdebstrap's stderr is
//! a pseudo-terminal, so it draws its progress bars, which [`crate::progress`] reads.

use std::collections::VecDeque;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use tracing::{debug, info};

use crate::catalog::Source;
use crate::keyring::KeyringError;
use crate::progress::{Position, Tracker};
use berth_storage::cmd;

#[derive(Debug, thiserror::Error)]
pub enum BootstrapError {
    #[error("neither mmdebstrap nor debootstrap is installed (apt install mmdebstrap)")]
    NoTool,
    #[error("unshare (util-linux) is not installed")]
    NoUnshare,
    #[error("the archive keyring")]
    Keyring(#[source] KeyringError),
    #[error("cannot open a pseudo-terminal for {tool}'s progress")]
    Pty {
        tool: &'static str,
        #[source]
        source: nix::Error,
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

/// What to lay down: minbase with the catalogue's packages, or (`Extract`) only unpack the
/// named packages without running anything from them (for archives holding no full system).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variant {
    Minbase,
    Extract,
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

    /// The full command line (after `unshare … --`) that builds `source` into `target`, with
    /// `keyring` the only keys apt trusts (mmdebstrap is given its directory).
    pub fn args(&self, source: &Source, target: &Path, keyring: &Path) -> Vec<OsString> {
        self.args_for(source, target, keyring, Variant::Minbase, source.packages())
    }

    /// Like [`Tool::args`] for another variant and package list.
    pub fn args_for(
        &self,
        source: &Source,
        target: &Path,
        keyring: &Path,
        variant: Variant,
        packages: &[&str],
    ) -> Vec<OsString> {
        let include = format!("--include={}", packages.join(","));
        let arch = format!("--arch={}", source.arch.as_str());
        let mut args: Vec<OsString> = Vec::new();
        match self {
            Self::Mmdebstrap(path) => {
                args.push(path.into());
                let variant = match variant {
                    Variant::Minbase => "--variant=minbase",
                    Variant::Extract => "--variant=extract",
                };
                let keys = keyring.parent().unwrap_or(keyring);
                for flag in [
                    "--mode=root",
                    variant,
                    "--format=directory",
                    &arch,
                    &include,
                ] {
                    args.push(flag.into());
                }
                args.push(format!("--keyring={}", keys.display()).into());
                // Only the keyring above: not the host's legacy trusted.gpg either.
                let untrusted = keys.join("no-legacy-keyring.gpg");
                args.push(format!("--aptopt=Dir::Etc::Trusted \"{}\"", untrusted.display()).into());
                // Never a `signed-by` guessed from the host's keyrings: the keyring above decides.
                args.push("--skip=check/signed-by".into());
                args.push("--aptopt=Acquire::Retries \"3\"".into());
                if source.ignore_valid_until {
                    args.push("--aptopt=Acquire::Check-Valid-Until \"false\"".into());
                }
                args.push("--dpkgopt=force-unsafe-io".into());
                if variant == "--variant=minbase" && Path::new(MAYBE_MERGED_USR).is_dir() {
                    args.push(format!("--hook-dir={MAYBE_MERGED_USR}").into());
                }
                args.push(source.suite.into());
                args.push(target.into());
                args.extend(source.apt_lines().into_iter().map(OsString::from));
            }
            Self::Debootstrap(path) => {
                args.push(path.into());
                let components = format!("--components={}", source.components.join(","));
                let keyring = format!("--keyring={}", keyring.display());
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

/// Runs `tool` for `source` into `target` (which must not exist; its parent holds the keyring
/// while it runs), calling `progress` each time the position moves.
pub async fn run(
    tool: &Tool,
    source: &Source,
    target: &Path,
    progress: &mut (dyn FnMut(Position) + Send),
) -> Result<(), BootstrapError> {
    run_variant(
        tool,
        source,
        target,
        Variant::Minbase,
        source.packages(),
        progress,
    )
    .await
}

/// [`run`] for another variant and package list.
pub async fn run_variant(
    tool: &Tool,
    source: &Source,
    target: &Path,
    variant: Variant,
    packages: &[&str],
    progress: &mut (dyn FnMut(Position) + Send),
) -> Result<(), BootstrapError> {
    let keys = target.with_extension("keyring");
    std::fs::create_dir_all(&keys)
        .map_err(|e| BootstrapError::Keyring(KeyringError::Write(keys.clone(), e)))?;
    let keyring = source
        .keyring
        .materialise(&keys)
        .map_err(BootstrapError::Keyring)?;
    let unshare = cmd::which("unshare").ok_or(BootstrapError::NoUnshare)?;
    let args = tool.args_for(source, target, &keyring, variant, packages);
    info!(tool = tool.name(), image = %source.image, target = %target.display(),
          keyring = %source.keyring.describe(), "bootstrapping");
    debug!(?args, "bootstrap command");
    let spawn = |source| BootstrapError::Spawn {
        tool: tool.name(),
        source,
    };
    let (terminal, bars) = crate::terminal::open().map_err(|source| BootstrapError::Pty {
        tool: tool.name(),
        source,
    })?;
    let mut child = {
        // Dropped at the end of this block, so the child holds the terminal's only copy and
        // its end is the end of the output.
        let mut command = tokio::process::Command::new(unshare);
        command
            .args(UNSHARE)
            .args(&args)
            .env("LC_ALL", "C.UTF-8")
            .env("DEBIAN_FRONTEND", "noninteractive")
            .env("ANSI_COLORS_DISABLED", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::from(terminal.try_clone().map_err(spawn)?))
            .stderr(Stdio::from(terminal))
            .kill_on_drop(true);
        // SAFETY: between fork and exec only async-signal-safe calls: setsid and ioctl. The
        // child gets a session (and process group) of its own, with the terminal as its
        // controlling one: mmdebstrap sizes its bars from /dev/tty.
        unsafe {
            command.pre_exec(crate::terminal::take_as_controlling);
        }
        command.spawn().map_err(spawn)?
    };
    let mut pieces = crate::terminal::read_pieces(bars);
    let mut tracker = Tracker::default();
    let mut tail = VecDeque::with_capacity(TAIL);
    while let Some(piece) = pieces.recv().await {
        if let Some(position) = tracker.feed(&piece) {
            progress(position);
        }
        let line = crate::progress::plain(&piece);
        if line.trim().is_empty() || line.contains(" [") && line.ends_with(']') {
            continue;
        }
        debug!(tool = tool.name(), "{line}");
        if tail.len() == TAIL {
            tail.pop_front();
        }
        tail.push_back(line);
    }
    let status = child.wait().await.map_err(spawn)?;
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
