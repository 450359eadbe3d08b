//! PVE's named string formats (`format: "dns-name"`, `"pve-node"`, …) with PVE's messages.
//! Formats Berth never sends are accepted as PVE's own code would check them further.

use std::net::{Ipv4Addr, Ipv6Addr};

fn dns_label(label: &str) -> bool {
    !label.is_empty()
        && label.len() <= 63
        && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        && !label.starts_with('-')
        && !label.ends_with('-')
}

/// Checks `value` against the named format; `Err` holds PVE's message.
pub fn check(format: &str, value: &str) -> Result<(), String> {
    let ok = match format {
        "dns-name" => value.split('.').all(dns_label),
        "pve-node" => dns_label(value),
        "pve-vmid" => value
            .parse::<u64>()
            .is_ok_and(|n| (100..=999_999_999).contains(&n)),
        // PVE's `[a-z][a-z0-9_-]+`, case-insensitive.
        "pve-configid" => {
            value.len() >= 2
                && value
                    .chars()
                    .next()
                    .is_some_and(|c| c.is_ascii_alphabetic())
                && value
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        }
        "pve-storage-id" => {
            value
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic())
                && value
                    .chars()
                    .last()
                    .is_some_and(|c| c.is_ascii_alphanumeric())
                && value
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        }
        "ipv4" => value.parse::<Ipv4Addr>().is_ok(),
        "ipv6" => value.parse::<Ipv6Addr>().is_ok(),
        "ip" => value.parse::<std::net::IpAddr>().is_ok(),
        "mac-addr" => {
            let parts: Vec<&str> = value.split(':').collect();
            parts.len() == 6
                && parts
                    .iter()
                    .all(|p| p.len() == 2 && p.chars().all(|c| c.is_ascii_hexdigit()))
        }
        "pve-userid" => value
            .split_once('@')
            .is_some_and(|(user, realm)| !user.is_empty() && dns_label(realm)),
        _ => true,
    };
    if ok {
        return Ok(());
    }
    Err(match format {
        "dns-name" => "invalid format - value does not look like a valid DNS name\n".into(),
        "pve-node" => "invalid format - value does not look like a valid node name\n".into(),
        "pve-storage-id" => {
            format!("invalid format - storage ID '{value}' contains illegal characters\n")
        }
        "pve-configid" => {
            format!("invalid format - invalid configuration ID '{value}'\n")
        }
        other => format!("invalid format - value does not look like a valid {other}\n"),
    })
}
