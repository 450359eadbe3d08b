//! Which kernel features Berth can use on this host: filesystems from `/proc/filesystems` (or a
//! loadable module under `/lib/modules`), links, TUN and nftables from berth-net's probes.

use berth_net::caps::{Capability, HostCapabilities};
use berth_types::api::{CapabilityInfo, KernelCapabilities};

/// The capabilities, from the network probes made at start and the filesystems now.
pub fn kernel_capabilities(net: &HostCapabilities) -> KernelCapabilities {
    let filesystems = std::fs::read_to_string("/proc/filesystems").unwrap_or_default();
    let release = nix::sys::utsname::uname()
        .map(|u| u.release().to_string_lossy().into_owned())
        .unwrap_or_default();
    let modules =
        std::fs::read_to_string(format!("/lib/modules/{release}/modules.dep")).unwrap_or_default();
    KernelCapabilities {
        btrfs: filesystem(
            &filesystems,
            &modules,
            "btrfs",
            "CoW clones, snapshots and disk limits need it; Berth copies with the dir driver instead",
        ),
        overlay: filesystem(
            &filesystems,
            &modules,
            "overlay",
            "overlay storage needs it",
        ),
        sit: info(&net.sit),
        wireguard: info(&net.wireguard_kernel),
        tun: info(&net.wireguard_userspace),
        nftables: info(&net.nftables),
    }
}

fn info(capability: &Capability) -> CapabilityInfo {
    CapabilityInfo {
        available: capability.available,
        reason: capability.reason.clone(),
    }
}

/// A filesystem the kernel has (built in or loaded), or can load as a module.
fn filesystem(
    filesystems: &str,
    modules_dep: &str,
    name: &str,
    consequence: &str,
) -> CapabilityInfo {
    let registered = filesystems
        .lines()
        .any(|line| line.split_whitespace().last() == Some(name));
    let loadable = modules_dep.lines().any(|line| {
        let module = line.split(':').next().unwrap_or_default();
        let file = module.rsplit('/').next().unwrap_or_default();
        file.split('.').next() == Some(name)
    });
    if registered || loadable {
        CapabilityInfo {
            available: true,
            reason: None,
        }
    } else {
        CapabilityInfo {
            available: false,
            reason: Some(format!(
                "the kernel has no {name} filesystem (not in /proc/filesystems, no module); {consequence}"
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filesystems_count_when_registered_or_loadable() {
        let proc = "nodev\tsysfs\nnodev\toverlay\n\tbtrfs\n\text4\n";
        assert!(filesystem(proc, "", "btrfs", "").available);
        assert!(filesystem(proc, "", "overlay", "").available);
        let missing = filesystem("\text4\n", "", "btrfs", "x");
        assert!(!missing.available);
        assert!(missing.reason.is_some_and(|r| r.contains("btrfs")));
        let dep = "kernel/fs/btrfs/btrfs.ko.zst: kernel/crypto/xor.ko.zst\n";
        assert!(filesystem("\text4\n", dep, "btrfs", "").available);
        assert!(!filesystem("\text4\n", dep, "overlay", "").available);
    }
}
