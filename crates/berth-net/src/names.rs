//! Names and identifiers derived from an instance: its netns name, host-side veth name and MAC.
//! Stable across restarts because they are pure functions of the instance.

use std::fmt::Write as _;

/// FNV-1a, 64 bits: small, stable across releases (unlike `DefaultHasher`).
fn fnv1a(data: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in data {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

/// The named netns of an instance: `berth-<name>` (under `/run/netns`).
pub fn netns_name(instance: &str) -> String {
    format!("berth-{instance}")
}

/// The host end of an instance's veth pair: `vb` and 12 hex digits of a hash of the name,
/// 14 chars (the kernel allows 15).
pub fn host_veth_name(instance: &str) -> String {
    format!("vb{:012x}", fnv1a(instance.as_bytes()) & 0xffff_ffff_ffff)
}

/// A stable MAC for the guest's `eth0`, from the instance id: `52:54:00:xx:xx:xx`.
pub fn instance_mac(instance_id: &str) -> [u8; 6] {
    let hash = fnv1a(instance_id.as_bytes()).to_be_bytes();
    [0x52, 0x54, 0x00, hash[5], hash[6], hash[7]]
}

/// `52:54:00:12:34:56`.
pub fn format_mac(mac: [u8; 6]) -> String {
    let mut text = String::with_capacity(17);
    for (i, byte) in mac.iter().enumerate() {
        if i > 0 {
            text.push(':');
        }
        let _ = write!(text, "{byte:02x}");
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_stable_short_and_distinct() {
        let a = host_veth_name("web1");
        assert_eq!(a, host_veth_name("web1"));
        assert_ne!(a, host_veth_name("web2"));
        assert!(a.len() <= 15 && a.starts_with("vb"), "{a}");
        let long = host_veth_name(&"a".repeat(63));
        assert_eq!(long.len(), 14);
        assert_eq!(netns_name("web1"), "berth-web1");
    }

    #[test]
    fn macs_are_stable_unicast() {
        let mac = instance_mac("5f0c-uuid");
        assert_eq!(mac, instance_mac("5f0c-uuid"));
        assert_ne!(mac, instance_mac("other"));
        assert_eq!(&mac[..3], &[0x52, 0x54, 0x00]);
        assert_eq!(
            format_mac([0x52, 0x54, 0, 0x12, 0x34, 0x56]),
            "52:54:00:12:34:56"
        );
    }
}
