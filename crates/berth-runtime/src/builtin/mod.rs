//! The builtin backend: youki's libcontainer, embedded. Its launcher writes the OCI bundle of a
//! system container (`local::spec`) into the guest's state directory; the guest's supervisor
//! runs it with libcontainer in process ([`engine`]). Everything else is the local layer's.

pub mod engine;

use berth_cgroups::Layout;

pub use engine::Libcontainer;

use crate::local::{
    EnginePlan, Launch, LaunchPlan, Launcher, LocalConfig, LocalRuntime, PlanError, spec,
};

/// The builtin backend.
pub type BuiltinRuntime = LocalRuntime<BuiltinLauncher>;

impl BuiltinRuntime {
    /// `config.state_root` must be the backend's own (e.g. `/run/berth/runtime`).
    pub fn new(config: LocalConfig) -> Self {
        LocalRuntime::with_launcher(BuiltinLauncher, config)
    }
}

/// How the builtin backend starts a guest: libcontainer on a bundle Berth writes.
#[derive(Debug, Clone, Copy)]
pub struct BuiltinLauncher;

impl Launcher for BuiltinLauncher {
    fn name(&self) -> &'static str {
        "builtin"
    }

    fn check_usable(&self) -> Result<(), String> {
        let layout = Layout::detect().map_err(|e| e.to_string())?;
        match &layout {
            Layout::V1(_) if layout.named_systemd().is_none() => {
                Err("cgroup v1 without the name=systemd hierarchy cannot boot systemd".into())
            }
            Layout::V1(_) => Ok(()),
            Layout::V2(root) => {
                let path = root.join("cgroup.controllers");
                let have = std::fs::read_to_string(&path)
                    .map_err(|e| format!("{}: {e}", path.display()))?;
                let missing: Vec<&str> = ["cpu", "memory", "pids"]
                    .into_iter()
                    .filter(|c| !have.split_whitespace().any(|h| h == *c))
                    .collect();
                if missing.is_empty() {
                    Ok(())
                } else {
                    Err(format!(
                        "cgroup2 controllers missing: {}",
                        missing.join(", ")
                    ))
                }
            }
        }
    }

    fn plan(&self, launch: &Launch<'_>) -> Result<LaunchPlan, PlanError> {
        let bundle = &launch.spec.state_dir;
        let oci = spec::generate(launch, launch.layout)?;
        spec::write_bundle(&oci, bundle)?;
        Ok(LaunchPlan {
            state_dir: bundle.clone(),
            bundle: Some(bundle.clone()),
            engine: EnginePlan::Libcontainer,
        })
    }
}
