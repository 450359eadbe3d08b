//! What this host can give one instance: its CPUs, memory, storage pool and `kernel.pid_max`.
//! A request for more is refused where it comes in, naming the field, before anything exists.

use berth_runtime::{Placement, Runtime};
use berth_types::{BackendName, HostCapacity, Limits};

use super::{App, AppError};

impl App {
    /// Refuses `limits` that no instance of `backend` on this host could have. A remote
    /// backend's guests live on other machines: only the absolute bounds apply to them.
    pub(crate) async fn check_capacity(
        &self,
        limits: &Limits,
        backend: &BackendName,
    ) -> Result<(), AppError> {
        limits.validate()?;
        if self.runtime(backend)?.capabilities().placement == Placement::Remote {
            return Ok(());
        }
        limits.fit(&self.host_capacity().await)?;
        Ok(())
    }

    /// This host's capacity, read now.
    pub(crate) async fn host_capacity(&self) -> HostCapacity {
        let pool = match self.storage.pool_usage().await {
            (Some(used), Some(free)) => used.checked_add(free),
            _ => None,
        };
        let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
        HostCapacity {
            cpus: std::thread::available_parallelism().map_or(1, |n| n.get()) as f64,
            memory: meminfo_total(&meminfo).unwrap_or(u64::MAX),
            disk: pool,
            processes: std::fs::read_to_string("/proc/sys/kernel/pid_max")
                .ok()
                .and_then(|text| text.trim().parse().ok())
                .unwrap_or(berth_types::limits::MAX_PROCESSES),
        }
    }
}

/// `MemTotal` of `/proc/meminfo`, in bytes.
fn meminfo_total(meminfo: &str) -> Option<u64> {
    let line = meminfo.lines().find(|l| l.starts_with("MemTotal:"))?;
    line.split_whitespace()
        .nth(1)?
        .parse::<u64>()
        .ok()?
        .checked_mul(1024)
}

#[cfg(test)]
mod tests {
    #[test]
    fn memory_total_is_read_in_bytes() {
        let text = "MemTotal:       24576000 kB\nMemFree: 1 kB\n";
        assert_eq!(super::meminfo_total(text), Some(24_576_000 * 1024));
        assert_eq!(super::meminfo_total(""), None);
    }
}
