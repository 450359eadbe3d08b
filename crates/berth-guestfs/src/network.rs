//! Guest network files: a systemd-networkd `.network` file giving the guest's interface its
//! static addresses and routes, or — in a guest whose `ifup` reads `/etc/network/interfaces`
//! — a `manual` stanza for it (the host then puts the addresses on it, and no DHCP client in
//! the guest flushes them), and `/etc/resolv.conf` (images have no systemd-resolved). Written
//! through [`crate::rootfs`] like every other guest file.

use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};

use crate::guest::NetworkStyle;
use crate::rootfs::{Rootfs, RootfsError};

const INTERFACES: &str = "/etc/network/interfaces";

#[derive(Debug, thiserror::Error)]
pub enum NetworkError {
    #[error("{0:?} is not a valid interface name")]
    BadInterface(String),
    #[error("prefix length /{0} is out of range")]
    BadPrefix(u8),
    #[error("{0:?} is not a valid DNS search domain")]
    BadDomain(String),
    #[error(transparent)]
    Rootfs(#[from] RootfsError),
}

/// How one guest interface is addressed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GuestNetwork {
    /// The interface inside the guest, `eth0`.
    pub interface: String,
    /// IPv4 address and prefix length, with its gateway.
    pub ipv4: Option<(Ipv4Addr, u8)>,
    pub gateway4: Option<Ipv4Addr>,
    /// IPv6 address and prefix length, with its gateway.
    pub ipv6: Option<(Ipv6Addr, u8)>,
    pub gateway6: Option<Ipv6Addr>,
    /// More IPv6 addresses (a global one from the uplink's routed prefix).
    pub extra_ipv6: Vec<(Ipv6Addr, u8)>,
    /// Name servers for `/etc/resolv.conf`; empty leaves the file alone.
    pub dns: Vec<IpAddr>,
    pub search: Vec<String>,
}

impl GuestNetwork {
    /// Where the `.network` file goes in the guest.
    pub fn path(&self) -> PathBuf {
        PathBuf::from(format!(
            "/etc/systemd/network/10-berth-{}.network",
            self.interface
        ))
    }

    fn checked_interface(&self) -> Result<&str, NetworkError> {
        let name = &self.interface;
        let valid = !name.is_empty()
            && name.len() <= 15
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if valid {
            Ok(name)
        } else {
            Err(NetworkError::BadInterface(name.clone()))
        }
    }

    /// `interfaces` (an `/etc/network/interfaces`, empty when there is none) with the
    /// interface's own lines (`auto`/`allow-*` naming it, its `iface` stanzas) replaced by a
    /// `manual` stanza saying what the host sets; everything else is kept as it was.
    pub fn interfaces_file(&self, interfaces: &str) -> Result<String, NetworkError> {
        let name = self.checked_interface()?;
        let mut out = String::with_capacity(interfaces.len() + 256);
        let mut in_ours = false;
        let mut has_lo = false;
        for line in interfaces.lines() {
            let words: Vec<&str> = line.split_whitespace().collect();
            let top = matches!(
                words.first().copied(),
                Some("iface" | "auto" | "mapping" | "source" | "source-directory")
            ) || words.first().is_some_and(|w| w.starts_with("allow-"));
            if top {
                in_ours = words.first() == Some(&"iface") && words.get(1) == Some(&name);
                has_lo |= words.first() == Some(&"iface") && words.get(1) == Some(&"lo");
                let names_ours = (words[0] == "auto" || words[0].starts_with("allow-"))
                    && words[1..].contains(&name);
                if names_ours {
                    let rest: Vec<&str> =
                        words[1..].iter().copied().filter(|w| *w != name).collect();
                    if !rest.is_empty() {
                        let _ = writeln!(out, "{} {}", words[0], rest.join(" "));
                    }
                    continue;
                }
            }
            if in_ours || line.starts_with("# Berth:") {
                continue;
            }
            out.push_str(line);
            out.push('\n');
        }
        if !has_lo {
            out.insert_str(0, "auto lo\niface lo inet loopback\n\n");
        }
        if !out.is_empty() && !out.ends_with("\n\n") {
            out.push('\n');
        }
        let mut said = Vec::new();
        if let Some((address, prefix)) = self.ipv4 {
            said.push(format!("{address}/{prefix}"));
        }
        if let Some((address, prefix)) = self.ipv6 {
            said.push(format!("{address}/{prefix}"));
        }
        let _ = writeln!(
            out,
            "# Berth: {name} gets {} and its default routes from the host at each start.",
            if said.is_empty() {
                "its addresses".to_owned()
            } else {
                said.join(", ")
            }
        );
        let _ = writeln!(out, "auto {name}\niface {name} inet manual");
        Ok(out)
    }

    /// The systemd-networkd file text.
    pub fn networkd_file(&self) -> Result<String, NetworkError> {
        let name = self.checked_interface()?;
        let mut text = format!("# Written by Berth.\n[Match]\nName={name}\n\n[Network]\n");
        if let Some((address, prefix)) = self.ipv4 {
            if prefix > 32 {
                return Err(NetworkError::BadPrefix(prefix));
            }
            let _ = writeln!(text, "Address={address}/{prefix}");
        }
        if let Some(gateway) = self.gateway4 {
            let _ = writeln!(text, "Gateway={gateway}");
        }
        if let Some((address, prefix)) = self.ipv6 {
            if prefix > 128 {
                return Err(NetworkError::BadPrefix(prefix));
            }
            let _ = writeln!(text, "Address={address}/{prefix}");
        }
        for (address, prefix) in &self.extra_ipv6 {
            if *prefix > 128 {
                return Err(NetworkError::BadPrefix(*prefix));
            }
            let _ = writeln!(text, "Address={address}/{prefix}");
        }
        if let Some(gateway) = self.gateway6 {
            let _ = writeln!(text, "Gateway={gateway}");
        }
        for server in &self.dns {
            let _ = writeln!(text, "DNS={server}");
        }
        text.push_str("IPv6AcceptRA=no\nLinkLocalAddressing=ipv6\n");
        Ok(text)
    }

    /// The `/etc/resolv.conf` text, or `None` when no name servers are given.
    pub fn resolv_conf(&self) -> Result<Option<String>, NetworkError> {
        if self.dns.is_empty() {
            return Ok(None);
        }
        let mut text = String::from("# Written by Berth.\n");
        for server in &self.dns {
            let _ = writeln!(text, "nameserver {server}");
        }
        if !self.search.is_empty() {
            for domain in &self.search {
                let valid = !domain.is_empty()
                    && domain.len() <= 253
                    && domain
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.');
                if !valid {
                    return Err(NetworkError::BadDomain(domain.clone()));
                }
            }
            let _ = writeln!(text, "search {}", self.search.join(" "));
        }
        Ok(Some(text))
    }
}

/// Writes the guest's network configuration the way `style` reads it (a `.network` file, the
/// stanza in `/etc/network/interfaces`, or nothing: the host configures it) and, with name
/// servers, its `/etc/resolv.conf`.
pub fn configure(
    root: &Rootfs,
    network: &GuestNetwork,
    style: NetworkStyle,
) -> Result<(), NetworkError> {
    let resolv = network.resolv_conf()?;
    match style {
        NetworkStyle::Networkd => {
            let networkd = network.networkd_file()?;
            root.write_file(&network.path(), networkd.as_bytes(), 0o644)?;
        }
        NetworkStyle::Ifupdown => {
            let path = Path::new(INTERFACES);
            let old = root.read_optional(path)?.unwrap_or_default();
            let text = network.interfaces_file(&String::from_utf8_lossy(&old))?;
            root.write_file(path, text.as_bytes(), 0o644)?;
        }
        NetworkStyle::None => {
            network.checked_interface()?;
        }
    }
    if let Some(resolv) = resolv {
        root.write_file(Path::new("/etc/resolv.conf"), resolv.as_bytes(), 0o644)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> GuestNetwork {
        GuestNetwork {
            interface: "eth0".into(),
            ipv4: Some((Ipv4Addr::new(10, 88, 0, 12), 24)),
            gateway4: Some(Ipv4Addr::new(10, 88, 0, 1)),
            ipv6: Some(("fd42:88::c".parse().expect("v6"), 64)),
            gateway6: Some("fd42:88::1".parse().expect("v6")),
            extra_ipv6: Vec::new(),
            dns: vec![IpAddr::V4(Ipv4Addr::new(10, 88, 0, 1))],
            search: vec!["berth.internal".into()],
        }
    }

    #[test]
    fn writes_networkd_and_resolv_conf() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = Rootfs::open(dir.path()).expect("open");
        configure(&root, &sample(), NetworkStyle::Networkd).expect("configure");
        let networkd =
            std::fs::read_to_string(dir.path().join("etc/systemd/network/10-berth-eth0.network"))
                .expect("network file");
        assert!(networkd.contains("[Match]\nName=eth0\n"));
        assert!(networkd.contains("Address=10.88.0.12/24\nGateway=10.88.0.1\n"));
        assert!(networkd.contains("Address=fd42:88::c/64\nGateway=fd42:88::1\n"));
        let resolv = std::fs::read_to_string(dir.path().join("etc/resolv.conf")).expect("resolv");
        assert!(resolv.contains("nameserver 10.88.0.1\nsearch berth.internal\n"));
    }

    #[test]
    fn an_ifupdown_guest_gets_a_manual_stanza_and_keeps_the_rest() {
        let old = "auto lo\niface lo inet loopback\n\nauto eth0 eth1\niface eth0 inet dhcp\n    hostname x\n\niface eth1 inet static\n    address 192.0.2.1/24\n";
        let text = sample().interfaces_file(old).expect("stanza");
        assert!(
            text.starts_with("auto lo\niface lo inet loopback\n"),
            "{text}"
        );
        assert!(
            text.contains("auto eth1\niface eth1 inet static\n    address 192.0.2.1/24\n"),
            "{text}"
        );
        assert!(
            !text.contains("dhcp") && !text.contains("hostname x"),
            "{text}"
        );
        assert!(
            text.ends_with("auto eth0\niface eth0 inet manual\n"),
            "{text}"
        );
        assert!(text.contains("10.88.0.12/24, fd42:88::c/64"), "{text}");
        // Written again at the next start: the same file.
        assert_eq!(sample().interfaces_file(&text).expect("again"), text);
        let fresh = sample().interfaces_file("").expect("fresh");
        assert!(
            fresh.starts_with("auto lo\niface lo inet loopback\n\n# Berth:"),
            "{fresh}"
        );

        let dir = tempfile::tempdir().expect("tempdir");
        let root = Rootfs::open(dir.path()).expect("open");
        configure(&root, &sample(), NetworkStyle::Ifupdown).expect("configure");
        let written =
            std::fs::read_to_string(dir.path().join("etc/network/interfaces")).expect("interfaces");
        assert!(written.contains("iface eth0 inet manual"));
        assert!(!dir.path().join("etc/systemd").exists());
        configure(&root, &sample(), NetworkStyle::None).expect("configure");
        assert!(dir.path().join("etc/resolv.conf").exists());
    }

    #[test]
    fn refuses_bad_values() {
        let mut bad = sample();
        bad.interface = "eth0/../../x".into();
        assert!(matches!(
            bad.networkd_file(),
            Err(NetworkError::BadInterface(_))
        ));
        let mut bad = sample();
        bad.ipv4 = Some((Ipv4Addr::new(10, 0, 0, 1), 33));
        assert!(matches!(
            bad.networkd_file(),
            Err(NetworkError::BadPrefix(33))
        ));
        let mut bad = sample();
        bad.search = vec!["a b\nnameserver 1.1.1.1".into()];
        assert!(matches!(bad.resolv_conf(), Err(NetworkError::BadDomain(_))));
        let mut none = sample();
        none.dns.clear();
        assert_eq!(none.resolv_conf().expect("ok"), None);
    }
}
