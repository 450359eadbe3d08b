//! The host as an admin sees it (`GET /system`'s `host`). No I/O: berthd reads /proc and
//! statfs.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The host's own readings, shown to admins only (the load and the pools' file systems are
/// the machine's business, not a tenant's).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct HostView {
    /// Seconds since the host booted (`/proc/uptime`).
    pub uptime_seconds: u64,
    /// The CPU model as `/proc/cpuinfo` names it (`unknown` when it does not).
    pub cpu_model: String,
    /// CPUs this daemon may use.
    pub cpus: usize,
    /// The kernel release (`uname -r`).
    pub kernel: String,
    /// Run-queue length averaged over 1, 5 and 15 minutes (`/proc/loadavg`).
    pub load_average: LoadAverage,
    /// `MemTotal` in bytes.
    pub memory_total: u64,
    /// `MemAvailable` in bytes: what new work can have without swapping.
    pub memory_available: u64,
    /// Each storage pool's file system (statfs).
    pub pools: Vec<PoolUsage>,
}

/// `/proc/loadavg`'s first three fields.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct LoadAverage {
    pub one: f64,
    pub five: f64,
    pub fifteen: f64,
}

impl LoadAverage {
    /// The first three fields of `/proc/loadavg` (`0.52 0.58 0.59 1/389 12345`).
    pub fn parse(text: &str) -> Option<Self> {
        let mut fields = text.split_whitespace().map(str::parse::<f64>);
        Some(Self {
            one: fields.next()?.ok()?,
            five: fields.next()?.ok()?,
            fifteen: fields.next()?.ok()?,
        })
    }
}

/// A storage pool's file system: its size and what is used and free, in bytes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct PoolUsage {
    pub name: String,
    pub path: String,
    /// Absent when the pool cannot be measured (then `used` and `free` are too).
    pub size: Option<u64>,
    pub used: Option<u64>,
    pub free: Option<u64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn load_average_is_read() {
        let load = LoadAverage::parse("0.52 1.50 3.00 1/389 12345\n");
        assert_eq!(
            load,
            Some(LoadAverage {
                one: 0.52,
                five: 1.5,
                fifteen: 3.0
            })
        );
        assert_eq!(LoadAverage::parse("0.5 x"), None);
    }
}
