//! What a guest may do, for every local backend that takes Berth's policy (builtin, oci, and
//! the enter helper on all of them): its capabilities (LXC's default drop list), the seccomp
//! deny list, masked and read-only paths, and the devices its cgroup lets it open.

use berth_cgroups::DeviceRule;
use serde_json::{Value, json};

/// Capabilities the guest does not get (LXC's default drop list).
const DROPPED_CAPS: &[&str] = &[
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_TIME",
    "CAP_MAC_ADMIN",
    "CAP_MAC_OVERRIDE",
];

/// Files of /proc and /sys the guest sees as empty (runc's and LXC's list).
pub const MASKED_PATHS: &[&str] = &[
    "/proc/kcore",
    "/proc/keys",
    "/proc/timer_list",
    "/proc/sched_debug",
    "/proc/scsi",
    "/proc/acpi",
    "/sys/firmware",
];

/// Parts of /proc the guest may read but not write (`/proc/sys` is mounted read-only apart).
pub const READONLY_PATHS: &[&str] = &["/proc/sysrq-trigger", "/proc/irq", "/proc/bus", "/proc/fs"];

/// Every capability, in kernel numbering order (index = capability number).
const ALL_CAPS: &[&str] = &[
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
];

/// The capabilities the guest gets: all but the dropped ones, within our own bounding set
/// (a capability outside it cannot be granted: capset fails).
pub fn capabilities() -> Vec<&'static str> {
    let bounding = bounding_set();
    ALL_CAPS
        .iter()
        .enumerate()
        .filter(|(i, c)| bounding >> i & 1 == 1 && !DROPPED_CAPS.contains(c))
        .map(|(_, c)| *c)
        .collect()
}

/// This process's capability bounding set (all bits when it cannot be read).
fn bounding_set() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            let line = s.lines().find(|l| l.starts_with("CapBnd:"))?;
            u64::from_str_radix(line.trim_start_matches("CapBnd:").trim(), 16).ok()
        })
        .unwrap_or(u64::MAX)
}

/// The devices the guest gets besides libcontainer's defaults (null, zero, full, tty,
/// random, urandom).
pub fn extra_devices() -> Value {
    json!([
        char_dev("/dev/net/tun", 10, 200, 0o666),
        char_dev("/dev/fuse", 10, 229, 0o666)
    ])
}

fn char_dev(path: &str, major: i64, minor: i64, mode: u32) -> Value {
    json!({"path": path, "type": "c", "major": major, "minor": minor, "fileMode": mode, "uid": 0, "gid": 0})
}

/// The devices the guest may use (everything else is denied); creating nodes is allowed.
pub const DEVICE_RULES: &[DeviceRule] = &[
    // mknod of any node (using one needs a rule below). Never one `a *:* m` rule: written to
    // a v1 `devices.allow`, type `a` allows every device with every access.
    DeviceRule::new(Some('c'), None, None, "m"),
    DeviceRule::new(Some('b'), None, None, "m"),
    DeviceRule::new(Some('c'), Some(1), Some(3), "rwm"), // null
    DeviceRule::new(Some('c'), Some(1), Some(5), "rwm"), // zero
    DeviceRule::new(Some('c'), Some(1), Some(7), "rwm"), // full
    DeviceRule::new(Some('c'), Some(1), Some(8), "rwm"), // random
    DeviceRule::new(Some('c'), Some(1), Some(9), "rwm"), // urandom
    DeviceRule::new(Some('c'), Some(5), Some(0), "rwm"), // tty
    DeviceRule::new(Some('c'), Some(5), Some(1), "rwm"), // console
    DeviceRule::new(Some('c'), Some(5), Some(2), "rwm"), // ptmx
    DeviceRule::new(Some('c'), Some(136), None, "rwm"),  // pts
    DeviceRule::new(Some('c'), Some(10), Some(200), "rwm"), // tun
    DeviceRule::new(Some('c'), Some(10), Some(229), "rwm"), // fuse
];

/// [`DEVICE_RULES`] as OCI device cgroup entries, after a deny-all.
pub fn device_rules() -> Value {
    let mut rules = vec![json!({"allow": false, "access": "rwm"})];
    for r in DEVICE_RULES {
        let kind = r.kind.map_or("a".to_owned(), String::from);
        rules.push(json!({
            "allow": true, "type": kind, "major": r.major, "minor": r.minor, "access": r.access,
        }));
    }
    Value::Array(rules)
}

/// The seccomp filter for a guest (privileged or not, nesting or not): `berth_isolation::
/// hardening`'s deny list (a privileged guest's is LXC's default: kexec, module loading,
/// `open_by_handle_at`), on the native and compat architectures so 32-bit entry points cannot
/// bypass it.
pub fn seccomp(privileged: bool, nesting: bool) -> Value {
    use berth_isolation::hardening::{denied, render};
    render::oci(&denied(privileged, nesting))
}

#[cfg(test)]
mod tests {
    use super::DEVICE_RULES;

    #[test]
    fn no_device_rule_allows_every_type() {
        // `a …` in a v1 devices.allow file allows every device with every access, whatever the
        // access letters say.
        assert!(DEVICE_RULES.iter().all(|r| r.kind.is_some()));
    }
}
