//! Daemon side of `start`: writes the bundle, spawns the detached shim and waits for its
//! `ready PID` (or `error MESSAGE`) line on the ready pipe.

use std::fs;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

use crate::ContainerSpec;
use crate::local::state::Paths;
use crate::local::{LocalConfig, control, spec};
use berth_cgroups::Layout;

/// How long a shim may take to report the guest's init running.
const READY_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Debug, thiserror::Error)]
pub enum LaunchError {
    #[error("already running")]
    AlreadyRunning,
    #[error(transparent)]
    Layout(#[from] berth_cgroups::LayoutError),
    #[error(transparent)]
    Spec(#[from] spec::SpecError),
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot run the shim {program}: {source}")]
    Spawn {
        program: String,
        #[source]
        source: std::io::Error,
    },
    #[error("the shim failed: {0}")]
    Shim(String),
    #[error("the shim did not report within {0} s")]
    Timeout(u64),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> LaunchError + '_ {
    move |source| LaunchError::Io {
        path: path.display().to_string(),
        source,
    }
}

pub async fn start(cfg: &LocalConfig, spec: &ContainerSpec) -> Result<i32, LaunchError> {
    let name = spec.name.as_str();
    let paths = Paths::new(&cfg.state_root, name);
    let prepared = {
        let (paths, spec) = (paths.clone(), spec.clone());
        tokio::task::spawn_blocking(move || prepare(&paths, &spec))
            .await
            .map_err(|e| LaunchError::Shim(e.to_string()))?
    };
    let log_path = prepared?;
    let args: Vec<std::ffi::OsString> = vec![
        "run".into(),
        "--name".into(),
        name.into(),
        "--state-root".into(),
        cfg.state_root.clone().into(),
        "--bundle".into(),
        spec.state_dir.clone().into(),
    ];
    let pid = spawn_shim(cfg, &args, &log_path).await?;
    tracing::info!(instance = name, pid, "guest started");
    Ok(pid)
}

/// Spawns the shim with `args` (its stderr to `log_path`) and waits for its `ready PID` line;
/// returns that pid, or the shim's error (its `error …` line or the log's tail).
pub(crate) async fn spawn_shim(
    cfg: &LocalConfig,
    args: &[std::ffi::OsString],
    log_path: &Path,
) -> Result<i32, LaunchError> {
    let log = fs::File::create(log_path).map_err(io(log_path))?;
    let (program, prefix) = match cfg.shim_command.split_first() {
        Some((p, r)) => (p.clone(), r.to_vec()),
        None => ("berth-shim".into(), Vec::new()),
    };
    let mut child = Command::new(&program)
        .args(prefix)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(log)
        .spawn()
        .map_err(|source| LaunchError::Spawn {
            program: program.to_string_lossy().into_owned(),
            source,
        })?;
    let stdout = child.stdout.take();
    let read = async {
        let mut line = String::new();
        if let Some(out) = stdout {
            let _ = BufReader::new(out).read_line(&mut line).await;
        }
        line
    };
    let line = tokio::time::timeout(READY_TIMEOUT, read).await;
    // The first shim process exits right after forking the real one.
    let _ = child.wait().await;
    let line = line.map_err(|_| LaunchError::Timeout(READY_TIMEOUT.as_secs()))?;
    if let Some(pid) = line.trim().strip_prefix("ready ")
        && let Ok(pid) = pid.parse()
    {
        return Ok(pid);
    }
    let reason = match line.trim().strip_prefix("error ") {
        Some(msg) => msg.to_owned(),
        None => log_tail(log_path),
    };
    Err(LaunchError::Shim(reason))
}

/// Refuses a running guest, clears leftovers of a dead one and writes the bundle; returns
/// the shim log's path.
fn prepare(paths: &Paths, spec: &ContainerSpec) -> Result<std::path::PathBuf, LaunchError> {
    if paths.init().is_some() {
        return Err(LaunchError::AlreadyRunning);
    }
    let layout = Layout::detect()?;
    control::settle(paths, &layout);
    fs::create_dir_all(&spec.state_dir).map_err(io(&spec.state_dir))?;
    let oci = spec::generate(spec, &layout)?;
    spec::write_bundle(&oci, &spec.state_dir)?;
    Ok(spec.state_dir.join("shim.log"))
}

/// The last lines of the shim's log, for an error message.
fn log_tail(path: &Path) -> String {
    let text = fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().rev().take(5).collect();
    let tail: Vec<&str> = lines.into_iter().rev().collect();
    if tail.is_empty() {
        "it exited without a word".to_owned()
    } else {
        tail.join(" | ")
    }
}
