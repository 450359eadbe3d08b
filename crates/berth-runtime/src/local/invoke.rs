//! How berthd invokes the shim (`berthd shim VERB --name N --state-root DIR …`): the options
//! every subcommand takes, parsed here for the shim's side and built here for the daemon's, so
//! both ends of the command line live in one place.

use std::collections::BTreeMap;
use std::ffi::OsString;
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
    pub bundle: Option<PathBuf>,
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
                "--bundle" => o.bundle = Some(value.into()),
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

/// `berth-shim VERB --name … -- argv…`; the caller sets up stdio.
pub fn helper_command(
    cfg: &LocalConfig,
    verb: &str,
    name: &str,
    cwd: Option<&str>,
    env: &BTreeMap<String, String>,
    argv: &[String],
) -> Command {
    let (program, prefix) = cfg
        .shim_command
        .split_first()
        .map_or((std::ffi::OsStr::new("berth-shim"), &[][..]), |(p, r)| {
            (p.as_os_str(), r)
        });
    let mut cmd = Command::new(program);
    cmd.args(prefix)
        .arg(verb)
        .arg("--name")
        .arg(name)
        .arg("--state-root")
        .arg(&cfg.state_root);
    if let Some(cwd) = cwd {
        cmd.arg("--cwd").arg(cwd);
    }
    for (k, v) in env {
        cmd.arg("--env").arg(format!("{k}={v}"));
    }
    cmd.arg("--").args(argv).kill_on_drop(true);
    cmd
}
