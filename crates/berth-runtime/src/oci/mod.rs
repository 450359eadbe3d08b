//! The oci backend: crun or runc through their CLI on an OCI bundle Berth generates (the
//! same system-container spec as the builtin backend: systemd as init, Berth's cgroup
//! `/berth/<name>` and limits, the prepared network namespace), run by Berth's supervisor
//! (`crate::local`). crun refuses a hybrid cgroup host, so on one it runs in a private mount
//! namespace without `/sys/fs/cgroup/unified` (the guest then sees cgroup v1 only); runc
//! gets the root filesystem as an absolute path without symlinks.

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
            "crun" => Some(Some(Self::Crun)),
            "runc" => Some(Some(Self::Runc)),
            _ => None,
        }
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
    /// The tool and its path, or why there is none.
    pub fn tool(&self) -> Result<(OciTool, PathBuf), String> {
        match self.tool {
            Some(tool) => probe::require(tool.program(), tool.program()).map(|p| (tool, p)),
            None => probe::find("crun")
                .map(|p| (OciTool::Crun, p))
                .or_else(|| probe::find("runc").map(|p| (OciTool::Runc, p)))
                .ok_or_else(|| {
                    "crun: not installed, runc: not installed (apt-get install crun)".to_owned()
                }),
        }
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

    fn plan(&self, launch: &Launch<'_>) -> Result<LaunchPlan, PlanError> {
        let (tool, program) = self.tool().map_err(PlanError::Unusable)?;
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
