//! `[host]`: the kernel limits berthd raises at start so a host can hold hundreds of guests.
//!
//! ```toml
//! [host]
//! raise_limits = true                # false: check and report only, write nothing
//! inotify_max_user_instances = 1048576
//! inotify_max_user_watches = 1048576
//! inotify_max_queued_events = 1048576
//! keys_maxkeys = 2000
//! keys_maxbytes = 2000000
//! pid_max = 4194304
//! pty_max = 65536
//! neigh_gc_thresh1 = 1024            # IPv4 and IPv6 neighbour tables alike
//! neigh_gc_thresh2 = 4096
//! neigh_gc_thresh3 = 8192
//! nf_conntrack_max = 262144          # only when the conntrack module is loaded
//! max_map_count = 262144
//! aio_max_nr = 524288
//! ```
//!
//! The defaults are those of Incus' production-setup guide (pid_max, pty_max and the lower
//! neighbour thresholds added for a 500-guest host). A key set to 0 leaves that limit alone.
//! berthd never lowers a value the host already set higher.

use serde::Deserialize;

use crate::host::sysctl::Wanted;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HostConfig {
    /// Write the limits below (through a private procfs instance); false only reports them.
    pub raise_limits: bool,
    pub inotify_max_user_instances: u64,
    pub inotify_max_user_watches: u64,
    pub inotify_max_queued_events: u64,
    pub keys_maxkeys: u64,
    pub keys_maxbytes: u64,
    pub pid_max: u64,
    pub pty_max: u64,
    pub neigh_gc_thresh1: u64,
    pub neigh_gc_thresh2: u64,
    pub neigh_gc_thresh3: u64,
    pub nf_conntrack_max: u64,
    pub max_map_count: u64,
    pub aio_max_nr: u64,
}

impl Default for HostConfig {
    fn default() -> Self {
        Self {
            raise_limits: true,
            inotify_max_user_instances: 1_048_576,
            inotify_max_user_watches: 1_048_576,
            inotify_max_queued_events: 1_048_576,
            keys_maxkeys: 2000,
            keys_maxbytes: 2_000_000,
            pid_max: 4_194_304,
            pty_max: 65_536,
            neigh_gc_thresh1: 1024,
            neigh_gc_thresh2: 4096,
            neigh_gc_thresh3: 8192,
            nf_conntrack_max: 262_144,
            max_map_count: 262_144,
            aio_max_nr: 524_288,
        }
    }
}

impl HostConfig {
    /// Every limit to raise, with the `[host]` key that sets it; keys set to 0 are left out.
    /// Neighbour thresholds go from the highest down, so no write makes thresh1 > thresh3.
    pub fn wanted(&self) -> Vec<Wanted> {
        let neigh = |v: &str, n: u8, value| {
            Wanted::new(
                format!("net/{v}/neigh/default/gc_thresh{n}"),
                format!("host.neigh_gc_thresh{n}"),
                value,
            )
        };
        let mut all = vec![
            Wanted::new(
                "fs/inotify/max_user_instances",
                "host.inotify_max_user_instances",
                self.inotify_max_user_instances,
            ),
            Wanted::new(
                "fs/inotify/max_user_watches",
                "host.inotify_max_user_watches",
                self.inotify_max_user_watches,
            ),
            Wanted::new(
                "fs/inotify/max_queued_events",
                "host.inotify_max_queued_events",
                self.inotify_max_queued_events,
            ),
            Wanted::new(
                "kernel/keys/maxkeys",
                "host.keys_maxkeys",
                self.keys_maxkeys,
            ),
            Wanted::new(
                "kernel/keys/maxbytes",
                "host.keys_maxbytes",
                self.keys_maxbytes,
            ),
            Wanted::new("kernel/pid_max", "host.pid_max", self.pid_max),
            Wanted::new("kernel/pty/max", "host.pty_max", self.pty_max),
        ];
        for v in ["ipv4", "ipv6"] {
            all.push(neigh(v, 3, self.neigh_gc_thresh3));
            all.push(neigh(v, 2, self.neigh_gc_thresh2));
            all.push(neigh(v, 1, self.neigh_gc_thresh1));
        }
        all.extend([
            Wanted::new(
                "net/netfilter/nf_conntrack_max",
                "host.nf_conntrack_max",
                self.nf_conntrack_max,
            )
            .optional(),
            Wanted::new("vm/max_map_count", "host.max_map_count", self.max_map_count),
            Wanted::new("fs/aio-max-nr", "host.aio_max_nr", self.aio_max_nr),
        ]);
        all.retain(|w| w.value > 0);
        all
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_leaves_a_limit_alone_and_thresholds_go_down() {
        let config = HostConfig {
            pty_max: 0,
            ..HostConfig::default()
        };
        let wanted = config.wanted();
        assert!(wanted.iter().all(|w| w.key != "host.pty_max"));
        let v4: Vec<&str> = wanted
            .iter()
            .filter(|w| w.path.starts_with("net/ipv4/neigh"))
            .map(|w| w.path.as_str())
            .collect();
        assert_eq!(
            v4,
            [
                "net/ipv4/neigh/default/gc_thresh3",
                "net/ipv4/neigh/default/gc_thresh2",
                "net/ipv4/neigh/default/gc_thresh1"
            ]
        );
        let inotify = wanted
            .iter()
            .find(|w| w.path == "fs/inotify/max_user_instances")
            .expect("inotify");
        assert_eq!(
            (inotify.key.as_str(), inotify.value),
            ("host.inotify_max_user_instances", 1_048_576)
        );
    }
}
