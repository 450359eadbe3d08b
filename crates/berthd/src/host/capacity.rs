//! The capacity left on this host for local guests: addresses in the bridge's subnet, the
//! inotify instances their systemds share, memory and pids. What one guest takes of each is a
//! measured estimate for an idle Debian 12 guest with room to spare (see docs/PERFORMANCE.md):
//! the check warns before the host is full and refuses a launch that would not fit, naming the
//! limit and what raises it.

use berth_types::capacity::{CapacityLeft, CapacityLimit};

/// inotify instances an idle guest's systemd, journald, logind and dbus take (5 measured).
pub const INOTIFY_PER_GUEST: u64 = 8;
/// Processes and threads an idle guest runs (12–20 measured), with room for logins.
pub const PIDS_PER_GUEST: u64 = 64;
/// Host memory an idle guest costs (~10 MiB measured), with room for its first work.
pub const MEMORY_PER_GUEST: u64 = 32 << 20;
/// Memory kept for the host and berthd itself.
pub const MEMORY_RESERVE: u64 = 256 << 20;
/// Warn when a limit leaves room for fewer guests than this.
pub const WARN_BELOW: u64 = 10;

/// What the capacity is computed from.
#[derive(Debug, Clone, Default)]
pub struct Readings {
    /// Local guests running now.
    pub guests_running: u64,
    /// Usable addresses in the bridge's IPv4 subnet, and those instances hold (stopped too).
    pub addresses: (u64, u64),
    /// `fs.inotify.max_user_instances`, when readable.
    pub inotify_max_user_instances: Option<u64>,
    /// `MemTotal` and `MemAvailable`, bytes.
    pub memory: (u64, u64),
    /// `kernel.pid_max` and the tasks that exist now, when readable.
    pub pids: Option<(u64, u64)>,
}

/// Each limit and the first one reached.
pub fn compute(r: &Readings) -> CapacityLeft {
    let mut limits = vec![limit(
        "addresses",
        r.addresses.0,
        r.addresses.1,
        1,
        "a larger subnet in [network] ipv4",
    )];
    if let Some(max) = r.inotify_max_user_instances {
        limits.push(limit(
            "inotify_instances",
            max,
            r.guests_running * INOTIFY_PER_GUEST,
            INOTIFY_PER_GUEST,
            "host.inotify_max_user_instances (fs.inotify.max_user_instances)",
        ));
    }
    let (total, available) = r.memory;
    limits.push(limit(
        "memory",
        total,
        total.saturating_sub(available) + MEMORY_RESERVE.min(total),
        MEMORY_PER_GUEST,
        "more memory, or fewer/lighter guests",
    ));
    if let Some((max, used)) = r.pids {
        limits.push(limit(
            "pids",
            max,
            used,
            PIDS_PER_GUEST,
            "host.pid_max (kernel.pid_max)",
        ));
    }
    let first = limits
        .iter()
        .min_by_key(|l| l.guests_left)
        .cloned()
        .unwrap_or_default();
    let warnings = limits
        .iter()
        .filter(|l| l.guests_left < WARN_BELOW)
        .map(|l| {
            format!(
                "{}: room for {} more guest(s) ({} of {} used); raise {}",
                l.name, l.guests_left, l.used, l.limit, l.raise_with
            )
        })
        .collect();
    CapacityLeft {
        guests_running: r.guests_running,
        guests_left: first.guests_left,
        limited_by: first.name,
        limits,
        warnings,
    }
}

fn limit(name: &str, limit: u64, used: u64, per_guest: u64, raise_with: &str) -> CapacityLimit {
    CapacityLimit {
        name: name.to_owned(),
        limit,
        used,
        per_guest,
        guests_left: limit.saturating_sub(used) / per_guest.max(1),
        raise_with: raise_with.to_owned(),
    }
}

/// `Err` naming the limit and what raises it when one more guest would not fit. `new_address`:
/// it takes an address (a create); `starting`: it starts (takes inotify, memory, pids).
pub fn check_room(
    capacity: &CapacityLeft,
    new_address: bool,
    starting: bool,
) -> Result<(), String> {
    let full = capacity
        .limits
        .iter()
        .filter(|l| {
            if l.name == "addresses" {
                new_address
            } else {
                starting
            }
        })
        .find(|l| l.guests_left == 0);
    match full {
        None => Ok(()),
        Some(l) => Err(format!(
            "the host is full: {} ({} of {} used, {} per guest); raise {} or stop or delete \
             guests first",
            l.name, l.used, l.limit, l.per_guest, l.raise_with
        )),
    }
}

/// Usable IPv4 addresses of a subnet with `prefix`: all but the network, gateway and broadcast.
pub fn usable_ipv4(prefix: u8) -> u64 {
    let all = 1u64 << (32 - u32::from(prefix.min(32)));
    all.saturating_sub(3)
}

/// `kernel.pid_max` and the tasks now (`/proc/loadavg`'s `running/total`).
pub fn read_pids() -> Option<(u64, u64)> {
    let max = read_u64("/proc/sys/kernel/pid_max")?;
    let loadavg = std::fs::read_to_string("/proc/loadavg").ok()?;
    let total = loadavg.split_whitespace().nth(3)?.split_once('/')?.1;
    Some((max, total.parse().ok()?))
}

/// A number in a file (a sysctl under `/proc/sys`, readable even where `/proc` is read-only).
pub fn read_u64(path: &str) -> Option<u64> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn readings(running: u64, inotify: u64) -> Readings {
        Readings {
            guests_running: running,
            addresses: (usable_ipv4(24), 30),
            inotify_max_user_instances: Some(inotify),
            memory: (24 << 30, 20 << 30),
            pids: Some((4_194_304, 1000)),
        }
    }

    #[test]
    fn the_first_limit_reached_is_named_with_what_raises_it() {
        assert_eq!(usable_ipv4(24), 253);
        let cap = compute(&readings(15, 128));
        assert_eq!(cap.limited_by, "inotify_instances");
        assert_eq!(cap.guests_left, 1);
        assert_eq!(cap.warnings.len(), 1, "{:?}", cap.warnings);
        assert!(check_room(&cap, true, true).is_ok());
        let full = compute(&readings(16, 128));
        let err = check_room(&full, false, true).expect_err("full");
        assert!(err.contains("inotify_instances"), "{err}");
        assert!(err.contains("host.inotify_max_user_instances"), "{err}");
        let roomy = compute(&readings(16, 1_048_576));
        assert_eq!(roomy.limited_by, "addresses");
        assert_eq!(roomy.guests_left, 223);
        assert!(roomy.warnings.is_empty());
    }

    #[test]
    fn addresses_count_only_for_a_create() {
        let mut r = readings(0, 1_048_576);
        r.addresses = (253, 253);
        let cap = compute(&r);
        assert!(
            check_room(&cap, false, true).is_ok(),
            "a start takes no address"
        );
        let err = check_room(&cap, true, false).expect_err("no address left");
        assert!(err.contains("[network] ipv4"), "{err}");
    }
}
