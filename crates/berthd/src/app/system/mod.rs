//! Host information for `GET /system`.

mod capabilities;
mod capacity;
mod host;
mod ready;

use berth_types::api::{BackendInfo, StoragePoolInfo, SystemInfo};

use super::{App, AppError, Principal};

impl App {
    /// `GET /system` for `caller`: everyone sees the host's summary and what it offers; an
    /// admin also gets `host`, the readings of the machine itself (load, pool sizes).
    pub async fn system_info(&self, caller: &Principal) -> Result<SystemInfo, AppError> {
        let uname = nix::sys::utsname::uname().map_err(|e| AppError::internal("uname", e))?;
        let (used, free) = self.storage.pool_usage().await;
        let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
        let pool = StoragePoolInfo {
            name: "default".into(),
            driver: self.storage.driver_name().to_owned(),
            path: self.storage.pool_path().display().to_string(),
            used,
            free,
        };
        let kernel = uname.release().to_string_lossy().into_owned();
        let host = caller
            .is_admin()
            .then(|| host::read(kernel.clone(), &[(pool.name.clone(), pool.path.clone())]));
        Ok(SystemInfo {
            version: env!("CARGO_PKG_VERSION").to_owned(),
            arch: berth_types::Arch::host()
                .map(|a| a.as_str().to_owned())
                .unwrap_or_else(|| std::env::consts::ARCH.to_owned()),
            hostname: uname.nodename().to_string_lossy().into_owned(),
            kernel,
            cpu_model: cpu_model(&std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default()),
            cpus: cpus(),
            memory: meminfo_bytes(&meminfo, "MemTotal:"),
            memory_available: meminfo_bytes(&meminfo, "MemAvailable:"),
            uptime_seconds: uptime_seconds(),
            cgroup: cgroup_layout().to_owned(),
            storage_driver: pool.driver.clone(),
            storage_path: pool.path.clone(),
            storage_used: used,
            storage_free: free,
            storage_pools: vec![pool],
            capabilities: capabilities::kernel_capabilities(self.network.capabilities()),
            default_backend: self.backends.default_name().to_string(),
            backends: self
                .backends
                .usability()
                .into_iter()
                .map(|(name, usable)| BackendInfo {
                    name: name.to_string(),
                    usable: usable.is_ok(),
                    reason: usable.err(),
                })
                .collect(),
            instances: self.store.list_instances()?.len(),
            capacity: self.capacity_left()?,
            host,
        })
    }
}

/// A `/proc/meminfo` line (`MemTotal:  123 kB`) in bytes; 0 when absent.
pub(crate) fn meminfo_bytes(meminfo: &str, key: &str) -> u64 {
    meminfo
        .lines()
        .find(|l| l.starts_with(key))
        .and_then(|line| line.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map(|kib| kib * 1024)
        .unwrap_or(0)
}

/// The first `model name` of `/proc/cpuinfo` (x86), else its `Model`/`CPU part` (arm64).
fn cpu_model(cpuinfo: &str) -> String {
    let field = |key: &str| {
        cpuinfo.lines().find_map(|line| {
            let (k, v) = line.split_once(':')?;
            (k.trim() == key && !v.trim().is_empty()).then(|| v.trim().to_owned())
        })
    };
    field("model name")
        .or_else(|| field("Model"))
        .or_else(|| field("CPU part").map(|part| format!("CPU part {part}")))
        .unwrap_or_else(|| "unknown".into())
}

/// CPUs this daemon may use (its affinity and cgroup quota, as the standard library reads them).
fn cpus() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}

fn uptime_seconds() -> u64 {
    std::fs::read_to_string("/proc/uptime")
        .ok()
        .and_then(|text| text.split_whitespace().next()?.parse::<f64>().ok())
        .map(|secs| secs as u64)
        .unwrap_or(0)
}

/// `v2` (unified), `v1-hybrid` (v1 controllers plus a v2 mount) or `v1`.
pub fn cgroup_layout() -> &'static str {
    let unified = std::path::Path::new("/sys/fs/cgroup/cgroup.controllers").exists();
    if unified {
        "v2"
    } else if std::path::Path::new("/sys/fs/cgroup/unified").exists() {
        "v1-hybrid"
    } else {
        "v1"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meminfo_and_cpuinfo_are_read() {
        let meminfo = "MemTotal:       24576000 kB\nMemAvailable:   12000000 kB\n";
        assert_eq!(meminfo_bytes(meminfo, "MemTotal:"), 24_576_000 * 1024);
        assert_eq!(meminfo_bytes(meminfo, "MemAvailable:"), 12_000_000 * 1024);
        assert_eq!(meminfo_bytes(meminfo, "SwapTotal:"), 0);
        assert_eq!(
            cpu_model("processor\t: 0\nmodel name\t: AMD EPYC\n"),
            "AMD EPYC"
        );
        assert_eq!(cpu_model("CPU part\t: 0xd0c\n"), "CPU part 0xd0c");
        assert_eq!(cpu_model(""), "unknown");
    }
}
