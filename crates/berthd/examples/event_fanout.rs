//! Benchmark of the event bus: SUBSCRIBERS readers (each taking every event's JSON, as the
//! WebSocket relay does; it is encoded once and shared) and EVENTS metrics events published as fast as possible. Prints how
//! long a publish takes and how long until every reader has everything.
//!
//! `cargo run --release -p berthd --example event_fanout -- [SUBSCRIBERS] [EVENTS]`

use std::time::Instant;

use berth_auth::{Principal, Role, Scope, Via};
use berth_types::events::{Event, EventData, EventFilter};
use berthd::app::events::EventBus;

#[tokio::main(flavor = "multi_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let subscribers: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(300);
    let events: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(1000);
    let bus = EventBus::new();
    let viewer = Principal {
        user_id: uuid::Uuid::new_v4(),
        username: "admin".into(),
        role: Role::Admin,
        scope: Scope::Full,
        via: Via::Socket,
    };
    let mut readers = tokio::task::JoinSet::new();
    for _ in 0..subscribers {
        // A buffer as large as the run, so the numbers measure delivery, not drops.
        let mut sub = bus.subscribe_with_buffer(viewer.clone(), EventFilter::default(), events);
        readers.spawn(async move {
            let (mut got, mut bytes, mut dropped) = (0usize, 0usize, 0u64);
            while got < events {
                let Some(event) = sub.recv().await else { break };
                if let EventData::Notice(n) = &event.data {
                    dropped += n.dropped;
                    got += n.dropped as usize;
                    continue;
                }
                bytes += event.json().len();
                got += 1;
            }
            (bytes, dropped)
        });
    }
    let point = serde_json::json!({"time": 1764615600, "cpu_percent": 12.5, "memory_bytes": 123456789,
        "memory_limit_bytes": 536870912, "memory_cache_bytes": 45, "disk_bytes": 1, "disk_limit_bytes": 2,
        "net_rx_bytes_per_s": 10.0, "net_tx_bytes_per_s": 3.0, "processes": 17});
    let started = Instant::now();
    for _ in 0..events {
        bus.publish(Event::metrics(Some("web1"), Some("admin"), &point)?);
    }
    let published = started.elapsed();
    let (mut bytes, mut dropped) = (0, 0);
    while let Some(done) = readers.join_next().await {
        let (b, d) = done?;
        bytes += b;
        dropped += d;
    }
    let delivered = started.elapsed();
    println!(
        "{subscribers} subscribers, {events} events: publish {:.1} µs/event ({:.0} ms total); \
         all delivered and encoded after {:.0} ms ({:.0} k deliveries/s, {:.1} MiB of JSON); dropped {dropped}",
        published.as_secs_f64() * 1e6 / events as f64,
        published.as_secs_f64() * 1e3,
        delivered.as_secs_f64() * 1e3,
        (subscribers * events) as f64 / delivered.as_secs_f64() / 1e3,
        bytes as f64 / (1 << 20) as f64,
    );
    Ok(())
}
