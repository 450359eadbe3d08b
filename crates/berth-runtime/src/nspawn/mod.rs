//! The nspawn backend: `systemd-nspawn --boot` on the instance's root filesystem, run by
//! Berth's own supervisor (`crate::host`) in Berth's cgroup `/berth/<name>` with Berth's
//! limits, since this host may have no systemd as PID 1 to hand nspawn a scope
//! (`--register=no --keep-unit`). nspawn runs inside the network namespace berthd prepared
//! (the supervisor joins it), so the guest's eth0 sits on Berth's bridge with Berth's address.

use crate::host::{self, LaunchPlan, Supervised};
use crate::local::{LocalConfig, probe};
use crate::{ContainerSpec, Runtime, RuntimeError};

/// nspawn's exit code when the guest asked for a reboot.
const REBOOT_EXIT: i32 = 133;

pub struct NspawnRuntime {
    host: Supervised,
}

impl NspawnRuntime {
    /// `config.state_root` must be the backend's own (e.g. `/run/berth/nspawn`).
    pub fn new(config: LocalConfig) -> Self {
        Self {
            host: Supervised::new("nspawn", config),
        }
    }
}

/// The `systemd-nspawn` command line for `spec`.
fn argv(program: &str, spec: &ContainerSpec) -> Vec<String> {
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
    argv.push(format!("--directory={}", spec.rootfs.display()));
    argv.push(format!("--machine={}", spec.name));
    argv.push(format!("--hostname={}", spec.hostname));
    argv.push("--setenv=container=systemd-nspawn".to_owned());
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

impl Runtime for NspawnRuntime {
    fn name(&self) -> &'static str {
        "nspawn"
    }

    fn check_usable(&self) -> Result<(), String> {
        probe::local_host()?;
        probe::require("systemd-nspawn", "systemd-container")?;
        Ok(())
    }

    async fn start(&self, spec: &ContainerSpec) -> Result<i32, RuntimeError> {
        let program = probe::require("systemd-nspawn", "systemd-container").map_err(|reason| {
            RuntimeError::Unusable {
                backend: "nspawn",
                reason,
            }
        })?;
        let plan = LaunchPlan {
            argv: argv(&program.to_string_lossy(), spec),
            hide_unified: false,
            reboot_codes: vec![REBOOT_EXIT],
            cleanup: None,
            state_dir: spec.state_dir.clone(),
            join_cgroups: true,
            netns: spec.netns.clone(),
            bundle: None,
        };
        self.host.start(spec, plan).await
    }

    host::delegate_to_host!();
}

#[cfg(test)]
mod tests {
    use super::*;
    use berth_types::InstanceName;

    #[test]
    fn command_line_boots_with_net_admin_for_the_prepared_netns() {
        let spec = ContainerSpec {
            name: InstanceName::parse("web1").expect("name"),
            rootfs: "/var/lib/berth/r".into(),
            hostname: "web1".into(),
            limits: Default::default(),
            state_dir: "/tmp/s".into(),
            netns: Some("/run/netns/berth-web1".into()),
        };
        let argv = argv("/usr/bin/systemd-nspawn", &spec);
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
