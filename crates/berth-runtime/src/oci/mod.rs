//! The oci backend: crun or runc through their CLI on an OCI bundle Berth generates (the
//! same system-container spec as the builtin backend: systemd as init, Berth's cgroup
//! `/berth/<name>` and limits, the prepared network namespace), run by Berth's supervisor
//! (`crate::local`). crun refuses a hybrid cgroup host, so on one it runs in a private mount
//! namespace without `/sys/fs/cgroup/unified` (the guest then sees cgroup v1 only); runc
//! gets the root filesystem as an absolute path without symlinks.
//!
//! The tool is a property of each guest: `ContainerSpec::runtime` (chosen at create, stored
//! with the instance) picks crun or runc for that guest, else `[oci] runtime` does. Both keep
//! their state under the same `--root`, one directory per guest name, so crun and runc guests
//! run side by side; only the start needs the tool (stop, exec and cleanup go through Berth's
//! supervisor, which holds the plan with the tool's own cleanup argv).

mod app;

use std::path::PathBuf;

use berth_cgroups::Layout;

use crate::local::{
    EnginePlan, Launch, LaunchPlan, Launcher, LocalConfig, LocalRuntime, PlanError, ToolPlan,
    probe, spec,
};

pub use app::AppSpec;

/// The OCI runtime binary the backend drives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OciTool {
    Crun,
    Runc,
}

impl OciTool {
    /// Every tool, in the order `auto` tries them.
    pub const ALL: [OciTool; 2] = [Self::Crun, Self::Runc];
    /// Their names, as an instance's `runtime` and a routing rule's `runtime` give them.
    pub const NAMES: &'static [&'static str] = &["crun", "runc"];

    pub fn program(self) -> &'static str {
        match self {
            Self::Crun => "crun",
            Self::Runc => "runc",
        }
    }

    /// `auto` (crun, else runc), `crun` or `runc`.
    pub fn parse(value: &str) -> Option<Option<OciTool>> {
        match value {
            "auto" | "" => Some(None),
            other => Self::named(other).map(Some),
        }
    }

    /// `crun` or `runc`.
    pub fn named(value: &str) -> Option<OciTool> {
        Self::ALL.into_iter().find(|t| t.program() == value)
    }
}

/// The tool a guest runs under and its path: `chosen` (an instance's own), else `default`
/// (`[oci] runtime`; `None`: the first of crun and runc that `find` finds). Why not, when
/// `chosen` is no OCI runtime or the tool is not installed.
fn pick(
    chosen: Option<&str>,
    default: Option<OciTool>,
    find: impl Fn(&str) -> Option<PathBuf>,
) -> Result<(OciTool, PathBuf), String> {
    let wanted = match chosen {
        Some(raw) => Some(OciTool::named(raw).ok_or_else(|| {
            format!(
                "{raw:?} is not an OCI runtime; use one of {}",
                OciTool::NAMES.join(", ")
            )
        })?),
        None => default,
    };
    let installed = |tool: OciTool| find(tool.program()).map(|path| (tool, path));
    match wanted {
        Some(tool) => installed(tool).ok_or_else(|| {
            let program = tool.program();
            format!("{program}: not installed (apt-get install {program})")
        }),
        None => OciTool::ALL.into_iter().find_map(installed).ok_or_else(|| {
            "crun: not installed, runc: not installed (apt-get install crun)".to_owned()
        }),
    }
}

/// The oci backend.
pub type OciRuntime = LocalRuntime<OciLauncher>;

impl OciRuntime {
    /// `config.state_root` must be the backend's own (e.g. `/run/berth/oci`); `tool` `None`
    /// takes crun when installed, else runc.
    pub fn new(config: LocalConfig, tool: Option<OciTool>) -> Self {
        LocalRuntime::with_launcher(OciLauncher { tool }, config)
    }
}

/// How the oci backend starts a guest: crun or runc `run` on a bundle Berth writes.
#[derive(Debug, Clone, Copy)]
pub struct OciLauncher {
    /// `None`: crun when installed, else runc.
    tool: Option<OciTool>,
}

impl OciLauncher {
    /// The default tool (`[oci] runtime`) and its path, or why there is none.
    pub fn tool(&self) -> Result<(OciTool, PathBuf), String> {
        self.tool_for(None)
    }

    /// The tool a guest whose own choice is `chosen` runs under (`None`: the default), and
    /// its path, or why there is none.
    pub fn tool_for(&self, chosen: Option<&str>) -> Result<(OciTool, PathBuf), String> {
        pick(chosen, self.tool, probe::find)
    }
}

/// `layout` as crun sees it: without a hybrid host's cgroup2 mount, which it cannot use.
fn visible_layout(layout: Layout, tool: OciTool) -> Layout {
    match (layout, tool) {
        (Layout::V1(hs), OciTool::Crun) => {
            Layout::V1(hs.into_iter().filter(|h| !h.is_unified()).collect())
        }
        (layout, _) => layout,
    }
}

fn hybrid(layout: &Layout) -> bool {
    matches!(layout, Layout::V1(hs) if hs.iter().any(|h| h.is_unified()))
}

/// runc refuses bind mounts inside /proc: /proc/sys becomes a read-only path instead, the
/// guest's own network sysctls included.
fn runc_proc_sys(oci: &mut oci_spec::runtime::Spec) {
    let inside_proc_sys = |m: &oci_spec::runtime::Mount| m.destination().starts_with("/proc/sys");
    if let Some(mounts) = oci.mounts().clone() {
        oci.set_mounts(Some(
            mounts.into_iter().filter(|m| !inside_proc_sys(m)).collect(),
        ));
    }
    if let Some(mut linux) = oci.linux().clone() {
        let mut ro = linux.readonly_paths().clone().unwrap_or_default();
        ro.push("/proc/sys".to_owned());
        linux.set_readonly_paths(Some(ro));
        oci.set_linux(Some(linux));
    }
}

impl Launcher for OciLauncher {
    fn name(&self) -> &'static str {
        "oci"
    }

    fn check_usable(&self) -> Result<(), String> {
        self.tool().map(|_| ())
    }

    fn runtime_tools(&self) -> &'static [&'static str] {
        OciTool::NAMES
    }

    fn choose_runtime_tool(&self, asked: Option<&str>) -> Result<Option<&'static str>, String> {
        self.tool_for(asked).map(|(tool, _)| Some(tool.program()))
    }

    fn plan(&self, launch: &Launch<'_>) -> Result<LaunchPlan, PlanError> {
        let (tool, program) = self
            .tool_for(launch.spec.runtime.as_deref())
            .map_err(PlanError::Unusable)?;
        tracing::debug!(instance = %launch.spec.name, tool = tool.program(), "oci runtime");
        let hide_unified = tool == OciTool::Crun && hybrid(launch.layout);
        let spec = launch.spec;
        // runc refuses a root reached through a symlink.
        let rootfs = std::fs::canonicalize(&launch.rootfs).map_err(|e| {
            PlanError::Failed(format!("root filesystem {}: {e}", launch.rootfs.display()))
        })?;
        let launch = Launch { rootfs, ..*launch };
        let mut oci = spec::generate(&launch, &visible_layout(launch.layout.clone(), tool))?;
        if tool == OciTool::Runc {
            runc_proc_sys(&mut oci);
        }
        spec::write_bundle(&oci, &spec.state_dir)?;
        let program = program.display().to_string();
        let root = launch.paths.engine_root.display().to_string();
        let name = spec.name.to_string();
        let bundle = spec.state_dir.display().to_string();
        Ok(LaunchPlan {
            state_dir: spec.state_dir.clone(),
            bundle: Some(spec.state_dir.clone()),
            engine: EnginePlan::Tool(ToolPlan {
                argv: vec![
                    program.clone(),
                    "--root".into(),
                    root.clone(),
                    "run".into(),
                    "--bundle".into(),
                    bundle,
                    name.clone(),
                ],
                hide_unified,
                // A guest's reboot ends its init with SIGHUP; the tool reports 128 + 1.
                reboot_codes: vec![129],
                cleanup: Some(vec![
                    program,
                    "--root".into(),
                    root,
                    "delete".into(),
                    "-f".into(),
                    name,
                ]),
                join_cgroups: false,
                netns: None,
            }),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn only(installed: &'static [&'static str]) -> impl Fn(&str) -> Option<PathBuf> {
        move |program| {
            installed
                .contains(&program)
                .then(|| PathBuf::from("/usr/bin").join(program))
        }
    }

    #[test]
    fn an_instances_own_tool_wins_over_the_default() {
        let both = only(&["crun", "runc"]);
        let got = |chosen, default| pick(chosen, default, &both).map(|(t, _)| t);
        assert_eq!(got(None, None), Ok(OciTool::Crun));
        assert_eq!(got(None, Some(OciTool::Runc)), Ok(OciTool::Runc));
        assert_eq!(got(Some("runc"), Some(OciTool::Crun)), Ok(OciTool::Runc));
        assert_eq!(got(Some("crun"), Some(OciTool::Runc)), Ok(OciTool::Crun));
    }

    #[test]
    fn unknown_and_missing_tools_are_named() {
        let err = pick(Some("youki"), None, only(&["crun"])).expect_err("youki");
        assert!(
            err.contains("\"youki\"") && err.contains("crun, runc"),
            "{err}"
        );
        let err = pick(Some("runc"), None, only(&["crun"])).expect_err("no runc");
        assert!(err.contains("runc: not installed"), "{err}");
        // auto falls back to runc, and says what to install when neither is there.
        assert_eq!(
            pick(None, None, only(&["runc"])).map(|(t, _)| t),
            Ok(OciTool::Runc)
        );
        assert!(pick(None, None, only(&[])).is_err());
    }
}
