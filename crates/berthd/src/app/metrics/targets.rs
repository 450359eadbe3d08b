//! What each tick samples: the running instances with their cached init PID and disk usage.

use berth_metrics::collector::{Disk, Target};
use berth_runtime::{MetricsSource, Runtime, RuntimeStatus};
use berth_types::InstanceState;

use super::{DISK_PER_TICK, lock};
use crate::app::App;
use crate::app::error::error_chain;

impl App {
    /// The running instances to sample, with their cached disk usage and init PID.
    pub(super) async fn metric_targets(&self, now: i64) -> Vec<Target> {
        let m = &self.metrics;
        let records = match self.store.list_instances() {
            Ok(r) => r,
            Err(e) => {
                tracing::error!(error = %error_chain(&e), "cannot list instances for metrics");
                return Vec::new();
            }
        };
        let running: Vec<_> = records
            .into_iter()
            .filter(|r| r.state == InstanceState::Running)
            // Every local backend keeps its guest in `/berth/<name>` with a host veth.
            .filter(|r| {
                m.all_backends || self.capabilities(&r.backend).metrics == MetricsSource::Collector
            })
            .collect();
        self.refresh_disk_usage(&running, now).await;
        let disk = lock(&m.disk).clone();
        let mut targets = Vec::with_capacity(running.len());
        for r in running {
            let name = r.name.to_string();
            let cached = lock(&m.pids).get(&name).copied();
            let pid = match cached {
                Some(pid) => Some(pid),
                None => self.init_pid(&r).await,
            };
            if let Some(pid) = pid {
                lock(&m.pids).insert(name.clone(), pid);
            }
            targets.push(Target {
                veth: Some(berth_net::host_veth_name(&name)),
                cpu_limit: r.limits.cpu,
                disk: disk.get(&name).map(|(_, d)| *d),
                init_pid: pid,
                owner: r.owner,
                name,
            });
        }
        targets
    }

    async fn init_pid(&self, record: &berth_store::InstanceRecord) -> Option<i32> {
        let runtime = self.runtime(&record.backend).ok()?;
        match runtime.status(&record.name).await.ok()? {
            RuntimeStatus::Running { pid } | RuntimeStatus::Frozen { pid } => Some(pid),
            RuntimeStatus::Stopped => None,
        }
    }

    /// Refreshes disk usage every `[metrics] disk_interval`: one qgroup listing of the whole
    /// pool where the driver can, else the instances measured longest ago, a bounded number
    /// per tick.
    async fn refresh_disk_usage(&self, running: &[berth_store::InstanceRecord], now: i64) {
        let m = &self.metrics;
        let storage = self.storage.driver();
        let batch_due = now - *lock(&m.last_disk_batch) >= m.disk_interval;
        if batch_due {
            *lock(&m.last_disk_batch) = now;
            match storage.usage_all().await {
                Ok(Some(all)) => {
                    let mut disk = lock(&m.disk);
                    disk.clear();
                    for r in running {
                        if let Some(u) = all.get(r.name.as_str()) {
                            let d = Disk {
                                used: u.used,
                                limit: u.limit,
                            };
                            disk.insert(r.name.to_string(), (now, d));
                        }
                    }
                    return;
                }
                Ok(None) => {}
                Err(e) => tracing::debug!(error = %error_chain(&e), "no pool-wide disk usage"),
            }
        }
        let due: Vec<String> = {
            let disk = lock(&m.disk);
            running
                .iter()
                .map(|r| r.name.to_string())
                .filter(|n| {
                    disk.get(n)
                        .is_none_or(|(at, _)| now - at >= m.disk_interval)
                })
                .take(DISK_PER_TICK)
                .collect()
        };
        for name in due {
            let usage = storage.usage(&name).await;
            let mut disk = lock(&m.disk);
            match usage {
                Ok(u) => {
                    let d = Disk {
                        used: u.used,
                        limit: u.limit,
                    };
                    disk.insert(name, (now, d));
                }
                Err(e) => {
                    tracing::debug!(instance = %name, error = %error_chain(&e), "no disk usage");
                    disk.remove(&name);
                }
            }
        }
    }
}
