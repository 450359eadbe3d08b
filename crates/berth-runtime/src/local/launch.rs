//! berthd's side of `start`, the same for every local backend: refuse a running guest, clear a
//! dead one's leftovers, have the launcher plan the start, make the guest's cgroups (unless
//! its engine makes its own), write the plan, spawn the detached supervisor (`berthd shim
//! run`) and wait for its `ready PID` (or `error MESSAGE`) line on the ready pipe.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use berth_cgroups::Layout;
use tokio::io::{AsyncBufReadExt, BufReader};

use super::guest::Launch;
use super::isolation::{self, Isolation, IsolationError};
use super::launcher::{Launcher, PlanError};
use super::plan::EnginePlan;
use super::plan::PlanFileError;
use super::plan::SupervisorFile;
use super::state::Paths;
use super::{LocalConfig, control, invoke, security, spec};
use crate::ContainerSpec;

/// How long a supervisor may take to report the guest's init running.
const READY_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Debug, thiserror::Error)]
pub enum LaunchError {
    #[error("already running")]
    AlreadyRunning,
    #[error(transparent)]
    Plan(#[from] PlanError),
    #[error(transparent)]
    PlanFile(#[from] PlanFileError),
    #[error(transparent)]
    Layout(#[from] berth_cgroups::LayoutError),
    #[error(transparent)]
    Cgroup(#[from] berth_cgroups::CgroupError),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot run the shim {program}: {source}")]
    Spawn {
        program: String,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Isolation(#[from] IsolationError),
    #[error(transparent)]
    Spec(#[from] super::spec::SpecError),
    #[error("the shim failed: {0}")]
    Shim(String),
    #[error("the shim did not report within {0} s")]
    Timeout(u64),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> LaunchError + '_ {
    move |source| LaunchError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Starts `spec` with `launcher`'s plan; returns init's host pid once the guest runs.
pub async fn start<L: Launcher>(
    cfg: &LocalConfig,
    launcher: Arc<L>,
    spec: &ContainerSpec,
) -> Result<i32, LaunchError> {
    let paths = Paths::new(&cfg.state_root, spec.name.as_str());
    {
        let (paths, spec) = (paths.clone(), spec.clone());
        let cfg = cfg.clone();
        tokio::task::spawn_blocking(move || prepare(&cfg, &paths, launcher.as_ref(), &spec))
            .await
            .map_err(|e| LaunchError::Shim(e.to_string()))??;
    }
    let log = spec.state_dir.join("shim.log");
    spawn_supervisor(cfg, spec.name.as_str(), &log).await
}

/// Everything up to the supervisor, on a blocking thread.
fn prepare(
    cfg: &LocalConfig,
    paths: &Paths,
    launcher: &impl Launcher,
    spec: &ContainerSpec,
) -> Result<(), LaunchError> {
    if paths.init().is_some() {
        return Err(LaunchError::AlreadyRunning);
    }
    let layout = Layout::detect()?;
    control::settle(paths, &layout);
    for dir in [&paths.dir, &spec.state_dir] {
        fs::create_dir_all(dir).map_err(io(dir))?;
    }
    let isolation = isolation_of(cfg, paths, launcher, spec)?;
    // The guest's CPUs; on cgroup v2 the cpuset controller is enabled for `/berth` first,
    // whichever engine then makes the guest's cgroup.
    let cpus = berth_cgroups::cpuset::pick(&layout, &paths.name, spec.limits.cpu)?;
    berth_cgroups::cpuset::delegate(&layout)?;
    tracing::debug!(instance = %spec.name, cpus = cpus.as_deref().unwrap_or("all"), "cpuset");
    let launch = Launch {
        spec,
        layout: &layout,
        paths,
        rootfs: isolation
            .as_ref()
            .map_or_else(|| spec.rootfs.clone(), |i| i.root.clone()),
        cpus: cpus.as_deref(),
    };
    let plan = launcher.plan(&launch)?;
    if plan.engine.needs_cgroups() {
        berth_cgroups::create(
            &layout,
            &paths.name,
            &spec.limits,
            cpus.as_deref(),
            security::DEVICE_RULES,
        )?;
    }
    match &isolation {
        Some(isolation) => {
            // A host tool makes the guest's cgroups anew at each boot: it delegates them
            // through a hook, between making them and starting init.
            if let (Some(bundle), EnginePlan::Tool(_)) = (&plan.bundle, &plan.engine) {
                let (program, args) = invoke::delegate_hook(cfg, &paths.name);
                spec::add_create_runtime_hook(bundle, &program, &args)?;
            }
            isolation.write(paths)?;
        }
        None => Isolation::clear(paths)?,
    }
    plan.write(paths)?;
    Ok(())
}

/// What the supervisor of an unprivileged guest does for it (`None`: privileged, or a backend
/// that isolates its guest itself); the directories on the way made searchable by the guest's
/// root.
fn isolation_of(
    cfg: &LocalConfig,
    paths: &Paths,
    launcher: &impl Launcher,
    spec: &ContainerSpec,
) -> Result<Option<Isolation>, LaunchError> {
    let Some(range) = spec.security.idmap else {
        return Ok(None);
    };
    if !launcher.idmapped_root() {
        return Ok(None);
    }
    let userns = spec.security.userns.clone().ok_or_else(|| {
        LaunchError::Plan(PlanError::Failed(
            "an unprivileged guest needs its user namespace file (security.userns)".into(),
        ))
    })?;
    let root = Isolation::root_of(paths);
    fs::create_dir_all(&root).map_err(io(&root))?;
    fs::create_dir_all(&paths.engine_root).map_err(io(&paths.engine_root))?;
    for dir in [&root, &paths.engine_root, &cfg.state_root] {
        isolation::make_searchable(dir)?;
    }
    tracing::info!(instance = %spec.name, start = range.start(), "unprivileged guest");
    Ok(Some(Isolation {
        start: range.start(),
        userns,
        source: spec.rootfs.clone(),
        root,
        nesting: spec.security.nesting,
    }))
}

/// Spawns `berthd shim run` (its stderr to `log_path`) and waits for its `ready PID` line;
/// returns that pid, or the supervisor's error (its `error …` line or the log's tail).
async fn spawn_supervisor(
    cfg: &LocalConfig,
    name: &str,
    log_path: &Path,
) -> Result<i32, LaunchError> {
    let log = fs::File::create(log_path).map_err(io(log_path))?;
    let mut cmd = invoke::run_command(cfg, name);
    let program = cmd.as_std().get_program().to_string_lossy().into_owned();
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(log)
        .spawn()
        .map_err(|source| LaunchError::Spawn { program, source })?;
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
