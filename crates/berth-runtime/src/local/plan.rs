//! What the supervisor runs for one guest: the plan a [`super::Launcher`] makes on berthd's
//! side, written to `launch.json` in the guest's directory under `state_root` and read back by
//! the supervisor (`berthd shim run`).

use std::path::PathBuf;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::state::Paths;

#[derive(Debug, thiserror::Error)]
pub enum PlanFileError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: {source}")]
    Json {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
}

/// One start of one guest.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LaunchPlan {
    /// The guest's state directory (`ContainerSpec::state_dir`): `console.log` is kept there.
    pub state_dir: PathBuf,
    /// An OCI bundle (a directory with `config.json`) whose `/dev/console` bind mount the
    /// supervisor points at the console pty before the engine runs it.
    pub bundle: Option<PathBuf>,
    /// What starts the guest's init.
    pub engine: EnginePlan,
}

/// What starts the guest's init inside the supervisor.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EnginePlan {
    /// youki's libcontainer, inside the supervisor, on [`LaunchPlan::bundle`] (builtin). It
    /// makes the guest's cgroups from the bundle itself, and again after a reboot.
    Libcontainer,
    /// A host tool the supervisor runs as its child (systemd-nspawn, crun, runc).
    Tool(ToolPlan),
}

impl EnginePlan {
    /// Whether berthd makes the guest's cgroups, with its limits and device allow-list,
    /// before the supervisor runs (libcontainer makes its own).
    pub fn needs_cgroups(&self) -> bool {
        !matches!(self, EnginePlan::Libcontainer)
    }
}

/// A host tool's command line and how it behaves.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ToolPlan {
    /// The tool's argv; it runs with the console pty as stdin and stdout.
    pub argv: Vec<String>,
    /// Unmount a hybrid host's `/sys/fs/cgroup/unified` in a private mount namespace before
    /// running the tool (crun refuses the hybrid layout otherwise).
    pub hide_unified: bool,
    /// Exit codes of the tool that mean the guest asked for a reboot: run it again.
    pub reboot_codes: Vec<i32>,
    /// Run once the tool exited, to drop the tool's own state (`crun delete -f NAME`).
    pub cleanup: Option<Vec<String>>,
    /// Put the tool in the guest's cgroups before it runs (nspawn); an OCI runtime places
    /// the guest itself (`linux.cgroupsPath`) and must stay outside, or freezing the guest
    /// would freeze it too.
    pub join_cgroups: bool,
    /// A network namespace the tool runs in (joined before it execs).
    pub netns: Option<PathBuf>,
}

impl SupervisorFile for LaunchPlan {
    const NAME: &'static str = "launch.json";
}

/// A JSON file berthd writes into a guest's directory under `state_root` for the supervisor
/// to read back: the launch plan (`launch.json`), an unprivileged guest's isolation
/// (`isolation.json`), a host tool's unprivileged steps (`unpriv-tool.json`). One way to write,
/// read and clear them.
pub trait SupervisorFile: Serialize + DeserializeOwned {
    /// The file's name in the guest's directory.
    const NAME: &'static str;

    fn path(paths: &Paths) -> PathBuf {
        paths.dir.join(Self::NAME)
    }

    fn write(&self, paths: &Paths) -> Result<(), PlanFileError> {
        let path = Self::path(paths);
        let text = serde_json::to_vec_pretty(self).map_err(|source| PlanFileError::Json {
            path: path.clone(),
            source,
        })?;
        std::fs::write(&path, text).map_err(|source| PlanFileError::Io { path, source })
    }

    /// The file's contents, `None` when there is none (this start did not write it).
    fn read(paths: &Paths) -> Result<Option<Self>, PlanFileError> {
        let path = Self::path(paths);
        match std::fs::read(&path) {
            Ok(text) => serde_json::from_slice(&text)
                .map(Some)
                .map_err(|source| PlanFileError::Json { path, source }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(PlanFileError::Io { path, source }),
        }
    }

    /// The file's contents; its absence is an error naming it (the supervisor's plan).
    fn load(paths: &Paths) -> Result<Self, PlanFileError> {
        Self::read(paths)?.ok_or_else(|| PlanFileError::Io {
            path: Self::path(paths),
            source: std::io::ErrorKind::NotFound.into(),
        })
    }

    /// Removes a previous start's file (nothing to remove is fine).
    fn clear(paths: &Paths) -> Result<(), PlanFileError> {
        let path = Self::path(paths);
        match std::fs::remove_file(&path) {
            Err(source) if source.kind() != std::io::ErrorKind::NotFound => {
                Err(PlanFileError::Io { path, source })
            }
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plans_round_trip_through_launch_json() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let paths = Paths::new(dir.path(), "web1");
        std::fs::create_dir_all(&paths.dir)?;
        let plan = LaunchPlan {
            state_dir: "/run/berth/web1".into(),
            bundle: None,
            engine: EnginePlan::Tool(ToolPlan {
                argv: vec!["/usr/bin/systemd-nspawn".into(), "--boot".into()],
                hide_unified: false,
                reboot_codes: vec![133],
                cleanup: None,
                join_cgroups: true,
                netns: Some("/run/netns/berth-web1".into()),
            }),
        };
        plan.write(&paths)?;
        let back = LaunchPlan::load(&paths)?;
        let EnginePlan::Tool(tool) = back.engine else {
            panic!("not a tool plan: {back:?}");
        };
        assert_eq!(tool.argv[1], "--boot");
        assert!(plan.engine.needs_cgroups() && !EnginePlan::Libcontainer.needs_cgroups());
        Ok(())
    }
}
