//! What this host's kernel can do for IPv6 uplinks: a `sit` tunnel (6in4), a kernel
//! `wireguard` link, or userspace WireGuard on a TUN device. Probed by asking the kernel to
//! create a throwaway link of each kind (and deleting it), so built-in and loadable modules
//! both count; a missing one comes with the reason. nftables, which every forward and the NAT
//! need, is probed by listing the ruleset with `nft`.

use netlink_packet_route::link::{InfoKind, LinkAttribute, LinkInfo, LinkMessage};

use crate::nl::Netlink;

/// One capability: usable, or why not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Capability {
    pub available: bool,
    pub reason: Option<String>,
}

impl Capability {
    fn yes() -> Self {
        Self {
            available: true,
            reason: None,
        }
    }

    fn no(reason: impl Into<String>) -> Self {
        Self {
            available: false,
            reason: Some(reason.into()),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostCapabilities {
    /// `sit` links, for 6in4 tunnels.
    pub sit: Capability,
    /// Kernel WireGuard links.
    pub wireguard_kernel: Capability,
    /// Userspace WireGuard (needs `/dev/net/tun`).
    pub wireguard_userspace: Capability,
    /// nf_tables in the kernel and the `nft` tool, for NAT and port forwards.
    pub nftables: Capability,
}

impl HostCapabilities {
    pub fn detect() -> Self {
        Self {
            sit: probe_link(InfoKind::SitTun, "sit", "6in4 tunnels need it"),
            wireguard_kernel: probe_link(
                InfoKind::Wireguard,
                "wireguard",
                "Berth falls back to userspace WireGuard",
            ),
            wireguard_userspace: probe_tun(),
            nftables: probe_nftables(),
        }
    }

    /// Whether WireGuard works one way or the other.
    pub fn wireguard(&self) -> bool {
        self.wireguard_kernel.available || self.wireguard_userspace.available
    }
}

fn probe_link(kind: InfoKind, module: &str, consequence: &str) -> Capability {
    let name = format!("bprobe{}", std::process::id() % 100_000);
    let mut nl = match Netlink::open() {
        Ok(nl) => nl,
        Err(e) => return Capability::no(format!("cannot ask the kernel: {e}")),
    };
    let mut message = LinkMessage::default();
    message.attributes.push(LinkAttribute::IfName(name.clone()));
    message
        .attributes
        .push(LinkAttribute::LinkInfo(vec![LinkInfo::Kind(kind)]));
    match nl.new_link(message) {
        Ok(()) => {
            if let Ok(Some(index)) = nl.link_index(&name) {
                let _ = nl.del_link(index);
            }
            Capability::yes()
        }
        Err(e) if e.errno() == Some(libc::EEXIST) => Capability::yes(),
        Err(e) => Capability::no(format!(
            "the kernel has no {module} module ({}); {consequence}",
            e.errno()
                .map(|n| std::io::Error::from_raw_os_error(n).to_string())
                .unwrap_or_else(|| e.to_string())
        )),
    }
}

fn probe_nftables() -> Capability {
    let listed = std::process::Command::new("nft")
        .args(["list", "tables"])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .output();
    match listed {
        Ok(out) if out.status.success() => Capability::yes(),
        Ok(out) => Capability::no(format!(
            "nft cannot read the ruleset ({}); the kernel needs nf_tables",
            String::from_utf8_lossy(&out.stderr).trim()
        )),
        Err(e) => Capability::no(format!(
            "cannot run nft ({e}); install the nftables package"
        )),
    }
}

fn probe_tun() -> Capability {
    match std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/net/tun")
    {
        Ok(_) => Capability::yes(),
        Err(e) => Capability::no(format!(
            "/dev/net/tun cannot be opened ({e}); create it with `mknod /dev/net/tun c 10 200`"
        )),
    }
}
