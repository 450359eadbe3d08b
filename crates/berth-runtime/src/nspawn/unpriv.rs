//! An unprivileged nspawn guest (docs/UNPRIVILEGED.md, "nspawn"). nspawn cannot join a user
//! namespace, so it makes its own from the guest's range, maps the root filesystem itself
//! (`--private-users-ownership=map`: an idmapped mount, nothing chowned) and, since a network
//! namespace berthd made belongs to berthd's user namespace (where the guest's root has no
//! `CAP_NET_ADMIN`), its own network with a veth named as berthd names the guest's: berthd's
//! pair is dropped at plan time and nspawn's host side is plugged into the same bridge after
//! each boot by the supervisor ([`crate::local::unpriv_tool`]), which also runs nspawn with a
//! fresh `/proc` and binds lxcfs' files into the guest.
//!
//! nspawn cannot filter system calls by their arguments: the "without nesting" tier of the
//! deny list (new user namespaces) is not applied; an nspawn guest can always make nested
//! user namespaces.

use std::path::Path;
use std::process::Command;

use berth_isolation::hardening::{denied, render};
use berth_types::IdRange;

use crate::ContainerSpec;
use crate::local::unpriv_tool::{Plug, UnprivTool};

/// The guest's interface name.
const GUEST_IFNAME: &str = "eth0";

/// nspawn's arguments for an unprivileged guest with `range`.
pub fn args(range: IdRange, nesting: bool, plug: Option<&Plug>) -> Vec<String> {
    let mut args = vec![
        format!(
            "--private-users={}:{}",
            range.start(),
            berth_types::idmap::IDS_PER_GUEST
        ),
        "--private-users-ownership=map".to_owned(),
        "--private-network".to_owned(),
    ];
    if let Some(plug) = plug {
        args.push(format!("--network-veth-extra={}:{GUEST_IFNAME}", plug.veth));
    }
    let (filters, skipped) = render::nspawn(&denied(false, nesting));
    if !skipped.is_empty() {
        tracing::debug!(?skipped, "nspawn cannot filter these by argument");
    }
    args.extend(filters);
    args
}

/// What the supervisor does around nspawn for `spec`; takes over the guest's veth name from
/// the pair berthd made in `spec.netns`, if any.
pub fn supervisor_plan(spec: &ContainerSpec) -> UnprivTool {
    let plug = spec
        .netns
        .as_ref()
        .and_then(|_| take_over_veth(spec.name.as_str()));
    UnprivTool {
        fresh_proc: true,
        plug,
        lxcfs: spec.security.lxcfs.clone(),
    }
}

/// berthd's host veth of `name`: its bridge is remembered and the pair deleted, so nspawn can
/// make one of that name (metrics read the guest's traffic by it).
fn take_over_veth(name: &str) -> Option<Plug> {
    let veth = berth_net::host_veth_name(name);
    let master = std::fs::read_link(Path::new("/sys/class/net").join(&veth).join("master"));
    let bridge = match master {
        Ok(link) => link.file_name()?.to_string_lossy().into_owned(),
        Err(e) => {
            tracing::warn!(instance = name, %veth, "no bridge for the guest's veth: {e}");
            return None;
        }
    };
    match Command::new("ip").args(["link", "del", &veth]).output() {
        Ok(out) if out.status.success() => {}
        Ok(out) => tracing::warn!(
            instance = name,
            %veth,
            "ip link del: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ),
        Err(e) => tracing::warn!(instance = name, %veth, "ip link del: {e}"),
    }
    Some(Plug { veth, bridge })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unprivileged_arguments_map_the_range_and_filter_syscalls() {
        let range = IdRange::new(0x7001_0000).expect("range");
        let plug = Plug {
            veth: "vb00aa".into(),
            bridge: "berth0".into(),
        };
        let args = args(range, false, Some(&plug));
        for want in [
            "--private-users=1879113728:65536",
            "--private-users-ownership=map",
            "--private-network",
            "--network-veth-extra=vb00aa:eth0",
            "--system-call-filter=~keyctl:ENOSYS",
        ] {
            assert!(args.iter().any(|a| a == want), "{want} missing: {args:?}");
        }
    }
}
