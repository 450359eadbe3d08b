//! What this host's kernel can do for IPv6 uplinks: a `sit` tunnel (6in4), a kernel
//! `wireguard` link, or userspace WireGuard on a TUN device. Probed by asking the kernel to
//! create a throwaway link of each kind (and deleting it), so built-in and loadable modules
//! both count; a missing one comes with the reason.

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
