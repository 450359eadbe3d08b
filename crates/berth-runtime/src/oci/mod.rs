//! The oci backend: crun or runc through their CLI on an OCI bundle Berth generates (the
//! same system-container spec as the builtin backend: systemd as init, Berth's cgroup
//! `/berth/<name>` and limits, the prepared network namespace), run by Berth's supervisor
//! (`crate::host`). crun refuses a hybrid cgroup host, so on one it runs in a private mount
//! namespace without `/sys/fs/cgroup/unified` (the guest then sees cgroup v1 only); runc
//! gets the root filesystem as an absolute path without symlinks.

mod app;

use std::path::PathBuf;

use crate::host::{self, LaunchPlan, Supervised};
use crate::local::{LocalConfig, probe, spec};
use crate::{ContainerSpec, Runtime, RuntimeError};
use berth_cgroups::Layout;

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

pub struct OciRuntime {
    host: Supervised,
    /// `None`: crun when installed, else runc.
    tool: Option<OciTool>,
}

impl OciRuntime {
    /// `config.state_root` must be the backend's own (e.g. `/run/berth/oci`).
    pub fn new(config: LocalConfig, tool: Option<OciTool>) -> Self {
        Self {
            host: Supervised::new("oci", config),
            tool,
        }
    }

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

    /// Where crun/runc keep their state: the builtin layout's `youki` directory, which
    /// `Paths::remove_all` clears with the rest of the guest's state.
    fn tool_root(&self) -> PathBuf {
        self.host.config().state_root.join("youki")
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

impl Runtime for OciRuntime {
    fn name(&self) -> &'static str {
        "oci"
    }

    fn check_usable(&self) -> Result<(), String> {
        probe::local_host()?;
        self.tool().map(|_| ())
    }

    async fn start(&self, spec: &ContainerSpec) -> Result<i32, RuntimeError> {
        let failed = |reason: String| RuntimeError::Failed {
            name: spec.name.clone(),
            action: "start",
            reason,
        };
        let (tool, program) = self.tool().map_err(|reason| RuntimeError::Unusable {
            backend: "oci",
            reason,
        })?;
        let layout = Layout::detect().map_err(|e| failed(e.to_string()))?;
        let hide_unified = tool == OciTool::Crun && hybrid(&layout);
        let mut spec = spec.clone();
        // runc refuses a root reached through a symlink.
        spec.rootfs = std::fs::canonicalize(&spec.rootfs)
            .map_err(|e| failed(format!("root filesystem {}: {e}", spec.rootfs.display())))?;
        std::fs::create_dir_all(&spec.state_dir)
            .map_err(|e| failed(format!("{}: {e}", spec.state_dir.display())))?;
        let mut oci = spec::generate(&spec, &visible_layout(layout, tool))
            .map_err(|e| failed(e.to_string()))?;
        if tool == OciTool::Runc {
            runc_proc_sys(&mut oci);
        }
        spec::write_bundle(&oci, &spec.state_dir).map_err(|e| failed(e.to_string()))?;
        let program = program.display().to_string();
        let root = self.tool_root().display().to_string();
        let name = spec.name.to_string();
        let bundle = spec.state_dir.display().to_string();
        let plan = LaunchPlan {
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
            state_dir: spec.state_dir.clone(),
            join_cgroups: false,
            netns: None,
            bundle: Some(spec.state_dir.clone()),
        };
        self.host.start(&spec, plan).await
    }

    host::delegate_to_host!();
}
