//! History of proxmox instances: Proxmox VE keeps its own round-robin database, so an
//! instance's metrics come from PVE's `rrddata` (Berth's collector samples only local guests).

use berth_proxmox::client::RrdPoint;
use berth_types::InstanceName;
use berth_types::metrics::{Cf, MetricsHistory, MetricsPoint, Timeframe};

use super::{ProxmoxRuntime, failed};
use crate::RuntimeError;

impl ProxmoxRuntime {
    /// `rrddata` of `name` for `timeframe`, in Berth's shape.
    pub(super) async fn rrd_history(
        &self,
        name: &InstanceName,
        timeframe: Timeframe,
        cf: Cf,
    ) -> Result<MetricsHistory, RuntimeError> {
        let (node, vmid) = self.located(name).await?;
        let rrd = self
            .client
            .rrddata(&node, vmid, timeframe.as_str(), pve_cf(cf))
            .await
            .map_err(|e| failed(name, "reading metrics", e))?;
        Ok(history(timeframe, cf, &rrd))
    }
}

/// PVE's names of the consolidation functions.
fn pve_cf(cf: Cf) -> &'static str {
    match cf {
        Cf::Avg => "AVERAGE",
        Cf::Max => "MAX",
    }
}

/// PVE's points in Berth's shape: `cpu` is the busy fraction of the container's `maxcpu`
/// cores, Berth's `cpu_percent` is percent of one core; `netin`/`netout` are bytes per second.
fn history(timeframe: Timeframe, cf: Cf, rrd: &[RrdPoint]) -> MetricsHistory {
    let points: Vec<MetricsPoint> = rrd
        .iter()
        .map(|p| MetricsPoint {
            time: p.time,
            cpu_percent: p.cpu.map(|cpu| cpu * p.maxcpu.unwrap_or(1.0) * 100.0),
            memory_bytes: p.mem,
            memory_limit_bytes: p.maxmem,
            memory_cache_bytes: None,
            disk_bytes: p.disk,
            disk_limit_bytes: None,
            net_rx_bytes_per_s: p.netin,
            net_tx_bytes_per_s: p.netout,
            processes: None,
        })
        .collect();
    let resolution = match points.as_slice() {
        [.., a, b] => b.time - a.time,
        _ => 0,
    };
    MetricsHistory {
        timeframe,
        cf,
        resolution,
        points,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pve_points_become_berth_points() {
        let rrd = [
            RrdPoint {
                time: 60,
                cpu: Some(0.25),
                maxcpu: Some(2.0),
                mem: Some(100.0),
                maxmem: Some(400.0),
                disk: Some(7.0),
                netin: Some(10.0),
                netout: None,
            },
            RrdPoint {
                time: 120,
                cpu: None,
                maxcpu: Some(2.0),
                mem: None,
                maxmem: None,
                disk: None,
                netin: None,
                netout: None,
            },
        ];
        let h = history(Timeframe::Hour, Cf::Avg, &rrd);
        assert_eq!(h.resolution, 60);
        assert_eq!(h.points[0].cpu_percent, Some(50.0));
        assert_eq!(h.points[0].memory_limit_bytes, Some(400.0));
        assert_eq!(h.points[0].net_rx_bytes_per_s, Some(10.0));
        assert_eq!(h.points[1].cpu_percent, None);
    }
}
