//! The host-tool backends on a guest that is not there: status is stopped, control verbs say
//! "not running", and remove succeeds (twice). Needs no guest; reads the host's cgroups.

use berth_runtime::local::LocalConfig;
use berth_runtime::lxc::LxcRuntime;
use berth_runtime::nspawn::NspawnRuntime;
use berth_runtime::oci::OciRuntime;
use berth_runtime::{AnyRuntime, Runtime, RuntimeError, RuntimeStatus};
use berth_types::InstanceName;

type Error = Box<dyn std::error::Error>;

#[tokio::test]
async fn absent_guests_are_stopped_and_removal_is_idempotent() -> Result<(), Error> {
    let t = tempfile::tempdir()?;
    let config = |dir: &str| LocalConfig {
        state_root: t.path().join(dir),
        shim_command: Vec::new(),
    };
    let backends = [
        AnyRuntime::Nspawn(NspawnRuntime::new(config("nspawn"))),
        AnyRuntime::Oci(OciRuntime::new(config("oci"), None)),
        AnyRuntime::Lxc(LxcRuntime::new(t.path().join("lxc"))),
    ];
    let name = InstanceName::parse(&format!("absent-{}", std::process::id()))?;
    for rt in &backends {
        assert_eq!(
            rt.status(&name).await?,
            RuntimeStatus::Stopped,
            "{}",
            rt.name()
        );
        assert!(
            matches!(rt.freeze(&name).await, Err(RuntimeError::NotRunning(_))),
            "{}: freeze of an absent guest",
            rt.name()
        );
        rt.remove(&name).await?;
        rt.remove(&name).await?;
        rt.kill(&name).await?;
    }
    Ok(())
}
