//! The OpenMetrics text of the last tick (`GET /metrics`), with `instance` and `owner` labels.

use std::sync::atomic::AtomicU64;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use crate::collector::Tick;

type Labels = Vec<(String, String)>;
type GaugeF = Family<Labels, Gauge<f64, AtomicU64>>;
type CounterF = Family<Labels, Counter<f64, AtomicU64>>;

/// The content type Prometheus asks for and this text is.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

fn gauge(registry: &mut Registry, name: &str, help: &str) -> GaugeF {
    let family = GaugeF::default();
    registry.register(name, help, family.clone());
    family
}

fn counter(registry: &mut Registry, name: &str, help: &str) -> CounterF {
    let family = CounterF::default();
    registry.register(name, help, family.clone());
    family
}

/// Renders `tick` (`None` before the first tick: only the metadata).
pub fn render(tick: Option<&Tick>) -> String {
    let mut r = Registry::with_prefix("berth");
    let cpu_total = counter(
        &mut r,
        "instance_cpu_seconds",
        "CPU time used by the instance",
    );
    let cpu = gauge(
        &mut r,
        "instance_cpu_percent",
        "CPU use over the last interval, percent of one core",
    );
    let cpu_limit = gauge(&mut r, "instance_cpu_limit_cores", "CPU limit in cores");
    let mem = gauge(
        &mut r,
        "instance_memory_bytes",
        "Memory charged to the instance, page cache included",
    );
    let cache = gauge(
        &mut r,
        "instance_memory_cache_bytes",
        "Page cache part of the instance's memory",
    );
    let mem_limit = gauge(&mut r, "instance_memory_limit_bytes", "Memory limit");
    let disk = gauge(
        &mut r,
        "instance_disk_bytes",
        "Disk used by the instance's root filesystem",
    );
    let disk_limit = gauge(&mut r, "instance_disk_limit_bytes", "Disk limit");
    let rx = counter(
        &mut r,
        "instance_network_receive_bytes",
        "Bytes the instance received",
    );
    let tx = counter(
        &mut r,
        "instance_network_transmit_bytes",
        "Bytes the instance sent",
    );
    let rxp = counter(
        &mut r,
        "instance_network_receive_packets",
        "Packets the instance received",
    );
    let txp = counter(
        &mut r,
        "instance_network_transmit_packets",
        "Packets the instance sent",
    );
    let procs = gauge(
        &mut r,
        "instance_processes",
        "Processes (tasks) in the instance",
    );
    let uptime = gauge(
        &mut r,
        "instance_uptime_seconds",
        "Seconds since the instance's init started",
    );
    let host_cpu_total = counter(
        &mut r,
        "host_cpu_seconds",
        "Busy CPU time of the host, all CPUs",
    );
    let host_cpu = gauge(
        &mut r,
        "host_cpu_percent",
        "Host CPU use over the last interval, percent of one core",
    );
    let host_mem = gauge(
        &mut r,
        "host_memory_used_bytes",
        "Host memory in use (total minus available)",
    );
    let host_mem_total = gauge(&mut r, "host_memory_total_bytes", "Host memory");
    let host_pool = gauge(&mut r, "host_pool_used_bytes", "Storage pool bytes used");
    let host_pool_size = gauge(&mut r, "host_pool_size_bytes", "Storage pool size");
    let host_procs = gauge(&mut r, "host_processes", "Processes on the host");
    let instances = gauge(
        &mut r,
        "instances_sampled",
        "Running instances sampled in the last tick",
    );
    if let Some(tick) = tick {
        instances
            .get_or_create(&Vec::new())
            .set(tick.instances.len() as f64);
        for s in &tick.instances {
            let l: Labels = vec![
                ("instance".to_owned(), s.name.clone()),
                ("owner".to_owned(), s.owner.clone()),
            ];
            let p = &s.point;
            cpu_total.get_or_create(&l).inc_by(s.cpu_seconds_total);
            let set = |f: &GaugeF, v: Option<f64>| {
                if let Some(v) = v {
                    f.get_or_create(&l).set(v);
                }
            };
            set(&cpu, p.cpu_percent);
            set(&cpu_limit, s.cpu_limit);
            set(&mem, p.memory_bytes);
            set(&cache, p.memory_cache_bytes);
            set(&mem_limit, p.memory_limit_bytes);
            set(&disk, p.disk_bytes);
            set(&disk_limit, p.disk_limit_bytes);
            set(&procs, p.processes);
            set(&uptime, s.uptime_seconds);
            if let Some(n) = s.net {
                rx.get_or_create(&l).inc_by(n.rx_bytes as f64);
                tx.get_or_create(&l).inc_by(n.tx_bytes as f64);
                rxp.get_or_create(&l).inc_by(n.rx_packets as f64);
                txp.get_or_create(&l).inc_by(n.tx_packets as f64);
            }
        }
        if let Some(h) = &tick.host {
            let none = Vec::new();
            let p = &h.point;
            host_cpu_total
                .get_or_create(&none)
                .inc_by(h.cpu_seconds_total);
            for (f, v) in [
                (&host_cpu, p.cpu_percent),
                (&host_mem, p.memory_bytes),
                (&host_mem_total, p.memory_limit_bytes),
                (&host_pool, p.disk_bytes),
                (&host_pool_size, p.disk_limit_bytes),
                (&host_procs, p.processes),
            ] {
                if let Some(v) = v {
                    f.get_or_create(&none).set(v);
                }
            }
        }
    }
    let mut out = String::new();
    // Writing into a String cannot fail.
    let _ = prometheus_client::encoding::text::encode(&mut out, &r);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::InstanceSample;
    use berth_types::metrics::MetricsPoint;

    #[test]
    fn labels_and_eof() {
        let tick = Tick {
            time: 1,
            instances: vec![InstanceSample {
                name: "web1".into(),
                owner: "alice".into(),
                point: MetricsPoint {
                    cpu_percent: Some(12.5),
                    ..MetricsPoint::default()
                },
                cpu_limit: None,
                cpu_seconds_total: 3.0,
                net: None,
                uptime_seconds: None,
            }],
            host: None,
            skipped: 0,
        };
        let text = render(Some(&tick));
        assert!(
            text.contains("berth_instance_cpu_percent{instance=\"web1\",owner=\"alice\"} 12.5"),
            "{text}"
        );
        assert!(
            text.contains(
                "berth_instance_cpu_seconds_total{instance=\"web1\",owner=\"alice\"} 3.0"
            )
        );
        assert!(text.trim_end().ends_with("# EOF"));
    }
}
