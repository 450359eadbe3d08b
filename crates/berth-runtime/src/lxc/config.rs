//! The LXC config Berth writes for a guest (`<lxcpath>/<name>/config`): LXC's common.conf,
//! the instance's root filesystem and hostname, the network namespace berthd prepared,
//! the cgroup `/berth/<name>` with Berth's limits, and systemd's halt signal.

use std::fmt::Write;
use std::path::Path;

use berth_cgroups::{self as cgroup, Layout};

use crate::ContainerSpec;

/// LXC's defaults for every container (devices, capabilities, seccomp, auto mounts).
pub const COMMON_CONF: &str = "/usr/share/lxc/config/common.conf";

/// The config text for `spec` on a host whose cgroups look like `layout`, the guest on the
/// host CPUs `cpus` (`berth_cgroups::cpuset::pick`; `None`: no cpuset controller).
pub fn generate(
    spec: &ContainerSpec,
    layout: &Layout,
    cpus: Option<&str>,
    common: &Path,
) -> String {
    let name = spec.name.as_str();
    let mut c = String::new();
    let mut line = |k: &str, v: &str| {
        let _ = writeln!(c, "{k} = {v}");
    };
    line("lxc.include", &common.display().to_string());
    line("lxc.rootfs.path", &format!("dir:{}", spec.rootfs.display()));
    line("lxc.uts.name", &spec.hostname);
    line("lxc.signal.halt", "SIGRTMIN+3");
    line("lxc.signal.reboot", "SIGTERM");
    line("lxc.environment", "container=lxc");
    line("lxc.autodev", "1");
    line("lxc.apparmor.profile", "unconfined");
    // Berth's cgroup, so the limits, freezer and cleanup are the same as for every backend;
    // LXC's monitor process gets one beside it.
    line(
        "lxc.cgroup.dir.container",
        &format!("{}/{name}", cgroup::PARENT),
    );
    line(
        "lxc.cgroup.dir.monitor",
        &format!("{MONITOR_PARENT}/{name}"),
    );
    match &spec.netns {
        // berthd's IPAM and forwards work on the veth it made: join that namespace.
        Some(netns) => line("lxc.namespace.share.net", &netns.display().to_string()),
        None => line("lxc.net.0.type", "empty"),
    }
    let limits = &spec.limits;
    let v1 = matches!(layout, Layout::V1(_));
    if let Some(cpu) = limits.cpu {
        let quota = cgroup::cpu_quota(cpu);
        if v1 {
            line(
                "lxc.cgroup.cpu.cfs_period_us",
                &cgroup::CPU_PERIOD.to_string(),
            );
            line("lxc.cgroup.cpu.cfs_quota_us", &quota.to_string());
        } else {
            line(
                "lxc.cgroup2.cpu.max",
                &format!("{quota} {}", cgroup::CPU_PERIOD),
            );
        }
    }
    if let Some(cpus) = cpus {
        let key = if v1 {
            "lxc.cgroup.cpuset.cpus"
        } else {
            "lxc.cgroup2.cpuset.cpus"
        };
        line(key, cpus);
    }
    if let Some(memory) = limits.memory {
        if v1 {
            line("lxc.cgroup.memory.limit_in_bytes", &memory.to_string());
            if memsw_exists(layout) {
                line(
                    "lxc.cgroup.memory.memsw.limit_in_bytes",
                    &memory.to_string(),
                );
            }
        } else {
            line("lxc.cgroup2.memory.max", &memory.to_string());
            line("lxc.cgroup2.memory.swap.max", "0");
        }
    }
    if let Some(processes) = limits.processes {
        let key = if v1 {
            "lxc.cgroup.pids.max"
        } else {
            "lxc.cgroup2.pids.max"
        };
        line(key, &processes.to_string());
    }
    c
}

/// Where LXC's monitor processes get their cgroups (`/berth-lxc/<name>`).
pub const MONITOR_PARENT: &str = "berth-lxc";

fn memsw_exists(layout: &Layout) -> bool {
    layout
        .controller_dir("memory", "x")
        .ok()
        .and_then(|d| d.parent().and_then(Path::parent).map(Path::to_owned))
        .is_some_and(|root| root.join("memory.memsw.limit_in_bytes").exists())
}

#[cfg(test)]
mod tests {
    use super::*;
    use berth_types::{InstanceName, Limits};

    #[test]
    fn config_names_rootfs_netns_cgroup_and_limits() {
        let spec = ContainerSpec {
            name: InstanceName::parse("ct-a").expect("name"),
            rootfs: "/var/lib/berth/r".into(),
            hostname: "ct-a".into(),
            limits: Limits {
                cpu: Some(0.5),
                memory: Some(1 << 28),
                disk: None,
                processes: Some(100),
            },
            state_dir: "/tmp/s".into(),
            runtime: None,
            netns: Some("/run/netns/berth-ct-a".into()),
            security: Default::default(),
        };
        let layout = Layout::V2("/sys/fs/cgroup".into());
        let text = generate(&spec, &layout, Some("1"), Path::new(COMMON_CONF));
        for want in [
            "lxc.include = /usr/share/lxc/config/common.conf",
            "lxc.rootfs.path = dir:/var/lib/berth/r",
            "lxc.namespace.share.net = /run/netns/berth-ct-a",
            "lxc.cgroup.dir.container = berth/ct-a",
            "lxc.cgroup2.cpu.max = 50000 100000",
            "lxc.cgroup2.cpuset.cpus = 1",
            "lxc.cgroup2.pids.max = 100",
            "lxc.signal.halt = SIGRTMIN+3",
        ] {
            assert!(text.lines().any(|l| l == want), "{want} missing:\n{text}");
        }
    }
}
