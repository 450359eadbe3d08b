//! wg-quick configurations (`[Interface]` and `[Peer]` sections), validated before they go
//! anywhere: keys are base64 of 32 bytes, addresses and allowed IPs are CIDRs, endpoints are
//! `host:port`. Errors name the line. Private and preshared keys never appear in `Debug`.

use std::fmt;
use std::net::IpAddr;

use crate::FieldError;

/// One validated wg-quick file, kept as its text plus what Berth needs to know about it.
#[derive(Clone, PartialEq, Eq)]
pub struct WgQuickConfig {
    text: String,
    /// `Address =` entries of `[Interface]`.
    pub addresses: Vec<String>,
    /// Number of `[Peer]` sections.
    pub peers: usize,
    /// `PreUp`/`PostUp`/`PreDown`/`PostDown` present: shell run by wg-quick.
    pub has_hooks: bool,
}

impl fmt::Debug for WgQuickConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WgQuickConfig")
            .field("addresses", &self.addresses)
            .field("peers", &self.peers)
            .field("has_hooks", &self.has_hooks)
            .finish_non_exhaustive()
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Section {
    None,
    Interface,
    Peer,
}

const INTERFACE_KEYS: &[&str] = &[
    "privatekey",
    "address",
    "listenport",
    "dns",
    "mtu",
    "table",
    "fwmark",
    "preup",
    "postup",
    "predown",
    "postdown",
    "saveconfig",
];
const PEER_KEYS: &[&str] = &[
    "publickey",
    "presharedkey",
    "allowedips",
    "endpoint",
    "persistentkeepalive",
];
const REPEATABLE: &[&str] = &[
    "address",
    "dns",
    "allowedips",
    "preup",
    "postup",
    "predown",
    "postdown",
];

/// Whether `raw` is standard base64 of exactly 32 bytes (44 characters, one `=`).
pub fn is_key(raw: &str) -> bool {
    let bytes = raw.as_bytes();
    bytes.len() == 44
        && bytes[43] == b'='
        && bytes[..43]
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || *b == b'+' || *b == b'/')
        // The last character before `=` carries 4 bits of key and 2 of padding: those must be 0.
        && b"AEIMQUYcgkosw048".contains(&bytes[42])
}

fn is_cidr(raw: &str) -> bool {
    let (addr, prefix) = raw.split_once('/').unwrap_or((raw, ""));
    let Ok(addr) = addr.parse::<IpAddr>() else {
        return false;
    };
    if prefix.is_empty() {
        return true;
    }
    let max = if addr.is_ipv4() { 32 } else { 128 };
    prefix.parse::<u8>().is_ok_and(|p| p <= max)
}

fn is_endpoint(raw: &str) -> bool {
    let Some((host, port)) = raw.rsplit_once(':') else {
        return false;
    };
    let port_ok = port.parse::<u16>().is_ok_and(|p| p > 0);
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let host_ok = host.parse::<IpAddr>().is_ok()
        || (!host.is_empty()
            && host.len() <= 253
            && host
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.'));
    port_ok && host_ok
}

impl WgQuickConfig {
    /// Validates `text`; errors name `field` and start `line N:`.
    pub fn parse(text: &str, field: &str) -> Result<Self, FieldError> {
        let err = |line: usize, why: String| FieldError::new(field, format!("line {line}: {why}"));
        let mut section = Section::None;
        let mut seen: Vec<String> = Vec::new();
        let mut config = Self {
            text: text.to_owned(),
            addresses: Vec::new(),
            peers: 0,
            has_hooks: false,
        };
        let mut has_private = false;
        let close = |section: Section, seen: &[String], line: usize| -> Result<(), FieldError> {
            if section == Section::Peer && !seen.iter().any(|k| k == "publickey") {
                return Err(err(line, "a [Peer] has no PublicKey".into()));
            }
            Ok(())
        };
        for (index, raw) in text.lines().enumerate() {
            let n = index + 1;
            let line = raw.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            if line.starts_with('[') {
                close(section, &seen, n)?;
                seen.clear();
                section = match line.to_ascii_lowercase().as_str() {
                    "[interface]" if section == Section::None => Section::Interface,
                    "[interface]" => {
                        return Err(err(n, "a second [Interface]; only one is allowed".into()));
                    }
                    "[peer]" if section != Section::None => {
                        config.peers += 1;
                        Section::Peer
                    }
                    "[peer]" => return Err(err(n, "[Peer] before [Interface]".into())),
                    _ => {
                        return Err(err(
                            n,
                            format!("unknown section {line}; use [Interface] or [Peer]"),
                        ));
                    }
                };
                continue;
            }
            let Some((key, value)) = line.split_once('=') else {
                return Err(err(n, format!("{line:?} is not `Key = Value`")));
            };
            let shown = key.trim().to_owned();
            let (key, value) = (key.trim().to_ascii_lowercase(), value.trim());
            let allowed = match section {
                Section::None => return Err(err(n, "settings before [Interface]".into())),
                Section::Interface => INTERFACE_KEYS,
                Section::Peer => PEER_KEYS,
            };
            if !allowed.contains(&key.as_str()) {
                let place = if section == Section::Peer {
                    "[Peer]"
                } else {
                    "[Interface]"
                };
                return Err(err(n, format!("unknown key {shown:?} in {place}")));
            }
            if seen.contains(&key) && !REPEATABLE.contains(&key.as_str()) {
                return Err(err(n, format!("{} is given twice", key_name(&key))));
            }
            seen.push(key.clone());
            let list = || value.split(',').map(str::trim).filter(|v| !v.is_empty());
            match key.as_str() {
                "privatekey" | "publickey" | "presharedkey" => {
                    if !is_key(value) {
                        return Err(err(
                            n,
                            format!(
                                "{} must be base64 of 32 bytes (`wg genkey` prints one)",
                                key_name(&key)
                            ),
                        ));
                    }
                    has_private |= key == "privatekey";
                }
                "address" | "allowedips" => {
                    for cidr in list() {
                        if !is_cidr(cidr) {
                            return Err(err(
                                n,
                                format!(
                                    "{} {cidr:?} is not an address/prefix such as 10.0.0.2/24",
                                    key_name(&key)
                                ),
                            ));
                        }
                        if key == "address" {
                            config.addresses.push(cidr.to_owned());
                        }
                    }
                }
                "dns" if list().next().is_none() => {
                    return Err(err(n, "DNS is empty".into()));
                }
                "endpoint" if !is_endpoint(value) => {
                    return Err(err(n, format!("Endpoint {value:?} is not host:port")));
                }
                "listenport" | "persistentkeepalive" | "mtu" | "fwmark" => {
                    if value.parse::<u32>().is_err() && !(key == "fwmark" && value == "off") {
                        return Err(err(
                            n,
                            format!("{} {value:?} is not a number", key_name(&key)),
                        ));
                    }
                    if key == "listenport" && value.parse::<u32>().is_ok_and(|p| p > 65535) {
                        return Err(err(n, format!("ListenPort {value} is past 65535")));
                    }
                }
                "preup" | "postup" | "predown" | "postdown" => config.has_hooks = true,
                _ => {}
            }
        }
        let last = text.lines().count().max(1);
        close(section, &seen, last)?;
        if section == Section::None {
            return Err(err(1, "no [Interface] section".into()));
        }
        if !has_private {
            return Err(err(last, "[Interface] has no PrivateKey".into()));
        }
        Ok(config)
    }

    /// The text as given (with its keys): only for writing into the guest, never for logs.
    pub fn text(&self) -> &str {
        &self.text
    }
}

fn key_name(lower: &str) -> &'static str {
    match lower {
        "privatekey" => "PrivateKey",
        "publickey" => "PublicKey",
        "presharedkey" => "PresharedKey",
        "address" => "Address",
        "allowedips" => "AllowedIPs",
        "endpoint" => "Endpoint",
        "listenport" => "ListenPort",
        "persistentkeepalive" => "PersistentKeepalive",
        "mtu" => "MTU",
        "fwmark" => "FwMark",
        "dns" => "DNS",
        "table" => "Table",
        _ => "key",
    }
}

#[cfg(test)]
#[path = "wireguard_tests.rs"]
mod tests;
