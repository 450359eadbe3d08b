//! How berthd invokes the shim (`berthd shim VERB --name N --state-root DIR …`): the options
//! every subcommand takes, parsed here for the shim's side and built here for the daemon's, so
//! both ends of the command line live in one place.

use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};
use std::path::PathBuf;

use tokio::process::Command;

use super::LocalConfig;

#[derive(Debug, thiserror::Error)]
pub enum InvokeError {
    #[error("usage: {0}")]
    Usage(String),
}

/// Options shared by the subcommands.
#[derive(Debug, Default)]
pub struct Opts {
    pub name: String,
    pub state_root: PathBuf,
    pub cwd: Option<String>,
    pub env: Vec<(String, String)>,
    pub argv: Vec<String>,
}

impl Opts {
    pub fn parse(args: &[OsString]) -> Result<Opts, InvokeError> {
        let mut o = Opts::default();
        let mut it = args.iter().map(|a| a.to_string_lossy().into_owned());
        while let Some(flag) = it.next() {
            if flag == "--" {
                o.argv = it.by_ref().collect();
                break;
            }
            let value = it
                .next()
                .ok_or_else(|| InvokeError::Usage(format!("{flag} needs a value")))?;
            match flag.as_str() {
                "--name" => o.name = value,
                "--state-root" => o.state_root = value.into(),
                "--cwd" => o.cwd = Some(value),
                "--env" => {
                    let (k, v) = value.split_once('=').unwrap_or((&value, ""));
                    o.env.push((k.to_owned(), v.to_owned()));
                }
                other => return Err(InvokeError::Usage(format!("unknown option {other}"))),
            }
        }
        if o.name.is_empty() || o.state_root.as_os_str().is_empty() {
            return Err(InvokeError::Usage(
                "--name and --state-root are required".into(),
            ));
        }
        Ok(o)
    }
}

/// The shim's program and the arguments before its verb (`berthd` + `shim`).
fn shim_program(cfg: &LocalConfig) -> (&OsStr, &[OsString]) {
    cfg.shim_command
        .split_first()
        .map_or((OsStr::new("berth-shim"), &[][..]), |(p, r)| {
            (p.as_os_str(), r)
        })
}

/// `berthd shim VERB --name N --state-root DIR`.
fn shim_command(cfg: &LocalConfig, verb: &str, name: &str) -> Command {
    let (program, prefix) = shim_program(cfg);
    let mut cmd = Command::new(program);
    cmd.args(prefix)
        .arg(verb)
        .arg("--name")
        .arg(name)
        .arg("--state-root")
        .arg(&cfg.state_root);
    cmd
}

/// `berthd shim run --name N --state-root DIR`: the guest's supervisor; the caller sets up
/// stdio.
pub fn run_command(cfg: &LocalConfig, name: &str) -> Command {
    shim_command(cfg, "run", name)
}

/// `berthd shim enter --name … -- argv…`; the caller sets up stdio.
pub fn enter_command(
    cfg: &LocalConfig,
    name: &str,
    cwd: Option<&str>,
    env: &BTreeMap<String, String>,
    argv: &[String],
) -> Command {
    let mut cmd = shim_command(cfg, "enter", name);
    if let Some(cwd) = cwd {
        cmd.arg("--cwd").arg(cwd);
    }
    for (k, v) in env {
        cmd.arg("--env").arg(format!("{k}={v}"));
    }
    cmd.arg("--").args(argv).kill_on_drop(true);
    cmd
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_daemon_builds_what_the_shim_parses() -> Result<(), InvokeError> {
        let cfg = LocalConfig {
            state_root: "/run/berth/nspawn".into(),
            shim_command: vec!["/usr/bin/berthd".into(), "shim".into()],
        };
        let env = BTreeMap::from([("A".to_owned(), "b=c".to_owned())]);
        let argv = ["ls".to_owned(), "-l".to_owned()];
        let cmd = enter_command(&cfg, "web1", Some("/tmp"), &env, &argv);
        let args: Vec<OsString> = cmd.as_std().get_args().map(OsStr::to_owned).collect();
        assert_eq!(args[..2], ["shim", "enter"]);
        let opts = Opts::parse(&args[2..])?;
        assert_eq!(opts.name, "web1");
        assert_eq!(opts.state_root, PathBuf::from("/run/berth/nspawn"));
        assert_eq!(opts.cwd.as_deref(), Some("/tmp"));
        assert_eq!(opts.env, [("A".to_owned(), "b=c".to_owned())]);
        assert_eq!(opts.argv, argv);
        Ok(())
    }
}
