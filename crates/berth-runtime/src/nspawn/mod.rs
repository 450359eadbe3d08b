//! The nspawn backend: `systemd-nspawn --boot` on the instance's root filesystem, run by
//! Berth's own supervisor (`crate::local`) in Berth's cgroup `/berth/<name>` with Berth's
//! limits, since this host may have no systemd as PID 1 to hand nspawn a scope
//! (`--register=no --keep-unit`). nspawn runs inside the network namespace berthd prepared
//! (the supervisor joins it), so the guest's eth0 sits on Berth's bridge with Berth's address.

mod unpriv;

use crate::local::plan::SupervisorFile;
use crate::local::unpriv_tool::{Plug, UnprivTool};
use crate::local::{
    EnginePlan, Launch, LaunchPlan, Launcher, LocalConfig, LocalRuntime, PlanError, ToolPlan, probe,
};

/// nspawn's exit code when the guest asked for a reboot.
const REBOOT_EXIT: i32 = 133;

/// The nspawn backend.
pub type NspawnRuntime = LocalRuntime<NspawnLauncher>;

impl NspawnRuntime {
    /// `config.state_root` must be the backend's own (e.g. `/run/berth/nspawn`).
    pub fn new(config: LocalConfig) -> Self {
        LocalRuntime::with_launcher(NspawnLauncher, config)
    }
}

/// How the nspawn backend starts a guest: `systemd-nspawn --boot` as a host tool.
#[derive(Debug, Clone, Copy)]
pub struct NspawnLauncher;

/// The `systemd-nspawn` command line for `launch` (`plug`: an unprivileged guest's veth).
fn argv(program: &str, launch: &Launch<'_>, plug: Option<&Plug>) -> Vec<String> {
    let spec = launch.spec;
    let mut argv: Vec<String> = [
        program,
        "--quiet",
        "--boot",
        "--register=no",
        "--keep-unit",
        // The guest's console is the supervisor's pty, so `berth console` works.
        "--console=interactive",
        // Berth writes the guest's network files, hostname and time zone itself.
        "--resolv-conf=off",
        "--timezone=off",
        "--link-journal=no",
        "--kill-signal=SIGRTMIN+3",
    ]
    .map(str::to_owned)
    .to_vec();
    // An unprivileged guest's root is mapped by nspawn itself: the unmapped tree.
    let rootfs = match spec.security.idmap {
        Some(_) => &spec.rootfs,
        None => &launch.rootfs,
    };
    argv.push(format!("--directory={}", rootfs.display()));
    argv.push(format!("--machine={}", spec.name));
    argv.push(format!("--hostname={}", spec.hostname));
    argv.push("--setenv=container=systemd-nspawn".to_owned());
    if let Some(range) = spec.security.idmap {
        argv.extend(unpriv::args(range, spec.security.nesting, plug));
        return argv;
    }
    match &spec.netns {
        // The supervisor runs nspawn inside the prepared namespace (`LaunchPlan::netns`), so
        // the guest's /sys shows its own interfaces (with --network-namespace-path nspawn
        // mounts sysfs before joining, and the host's show). nspawn keeps CAP_NET_ADMIN only
        // for networks it made itself; the guest's networkd needs it for eth0.
        Some(_) => argv.push("--capability=CAP_NET_ADMIN".to_owned()),
        None => argv.push("--private-network".to_owned()),
    }
    argv
}

impl Launcher for NspawnLauncher {
    fn name(&self) -> &'static str {
        "nspawn"
    }

    fn check_usable(&self) -> Result<(), String> {
        probe::require("systemd-nspawn", "systemd-container").map(|_| ())
    }

    /// nspawn makes the guest's user namespace and idmapped mount itself
    /// (`--private-users=START:65536 --private-users-ownership=map` on the unmapped tree).
    fn idmapped_root(&self) -> bool {
        false
    }

    fn plan(&self, launch: &Launch<'_>) -> Result<LaunchPlan, PlanError> {
        let program =
            probe::require("systemd-nspawn", "systemd-container").map_err(PlanError::Unusable)?;
        let spec = launch.spec;
        // nspawn makes the guest's network itself when it makes its user namespace.
        let (netns, plug) = match spec.security.idmap {
            Some(_) => {
                let around = unpriv::supervisor_plan(spec);
                around
                    .write(launch.paths)
                    .map_err(|e| PlanError::Failed(e.to_string()))?;
                (None, around.plug)
            }
            None => {
                let _ = UnprivTool::clear(launch.paths);
                (spec.netns.clone(), None)
            }
        };
        Ok(LaunchPlan {
            state_dir: launch.spec.state_dir.clone(),
            bundle: None,
            engine: EnginePlan::Tool(ToolPlan {
                argv: argv(&program.to_string_lossy(), launch, plug.as_ref()),
                hide_unified: false,
                reboot_codes: vec![REBOOT_EXIT],
                cleanup: None,
                join_cgroups: true,
                netns,
            }),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ContainerSpec;
    use crate::local::state::Paths;
    use berth_types::InstanceName;

    #[test]
    fn command_line_boots_with_net_admin_for_the_prepared_netns() {
        let spec = ContainerSpec {
            name: InstanceName::parse("web1").expect("name"),
            rootfs: "/var/lib/berth/r".into(),
            hostname: "web1".into(),
            limits: Default::default(),
            state_dir: "/tmp/s".into(),
            runtime: None,
            netns: Some("/run/netns/berth-web1".into()),
            security: Default::default(),
        };
        let layout = berth_cgroups::Layout::V2("/sys/fs/cgroup".into());
        let paths = Paths::new(std::path::Path::new("/run/berth/nspawn"), "web1");
        let launch = Launch {
            spec: &spec,
            layout: &layout,
            paths: &paths,
            rootfs: spec.rootfs.clone(),
            cpus: None,
        };
        let argv = argv("/usr/bin/systemd-nspawn", &launch, None);
        for want in [
            "--boot",
            "--register=no",
            "--keep-unit",
            "--directory=/var/lib/berth/r",
            "--hostname=web1",
            "--capability=CAP_NET_ADMIN",
        ] {
            assert!(argv.iter().any(|a| a == want), "{want} missing: {argv:?}");
        }
    }
}
