//! Host information for `GET /system`.

use berth_runtime::Runtime;
use berth_types::api::{BackendInfo, SystemInfo};

use super::{App, AppError};

impl App {
    pub async fn system_info(&self) -> Result<SystemInfo, AppError> {
        let uname = nix::sys::utsname::uname().map_err(|e| AppError::internal("uname", e))?;
        let (used, free) = self.images.pool_usage().await;
        Ok(SystemInfo {
            version: env!("CARGO_PKG_VERSION").to_owned(),
            arch: berth_types::Arch::host()
                .map(|a| a.as_str().to_owned())
                .unwrap_or_else(|| std::env::consts::ARCH.to_owned()),
            hostname: uname.nodename().to_string_lossy().into_owned(),
            kernel: uname.release().to_string_lossy().into_owned(),
            cpus: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1),
            memory: host_memory(),
            cgroup: cgroup_layout().to_owned(),
            storage_driver: self.images.driver_name().to_owned(),
            storage_path: self.images.pool_path().display().to_string(),
            storage_used: used,
            storage_free: free,
            default_backend: self.config.default_backend.clone(),
            backends: self
                .runtimes()
                .map(|(name, runtime)| {
                    let usable = runtime.check_usable();
                    BackendInfo {
                        name: name.clone(),
                        usable: usable.is_ok(),
                        reason: usable.err(),
                    }
                })
                .collect(),
            instances: self.store.list_instances()?.len(),
        })
    }
}

fn host_memory() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|text| {
            let line = text.lines().find(|l| l.starts_with("MemTotal:"))?;
            let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
            Some(kib * 1024)
        })
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
