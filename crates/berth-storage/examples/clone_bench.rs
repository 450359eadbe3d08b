//! Clone time of the storage drivers, measured side by side: `volume` (reflink of the sized
//! template + loop device + mount) against `btrfs` (snapshot + qgroup limit), interleaved so
//! both see the same load, after one warm-up clone each (which imports the image). Prints one
//! table with n, p50, p99, max and the load average. Run as root:
//!
//!     cargo run --release -p berth-storage --example clone_bench -- [N]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a benchmark: a failure ends it"
)]

use std::time::{Duration, Instant};

use berth_storage::StorageDriver;
use berth_testkit::{Scratch, cached_debian12};

const POOL: u64 = 20 << 30;
const DISK: u64 = 2 << 30;

fn load() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

fn pct(sorted: &[Duration], p: usize) -> f64 {
    let i = ((p * (sorted.len() - 1)) as f64 / 100.0).round() as usize;
    sorted[i.min(sorted.len() - 1)].as_secs_f64() * 1000.0
}

#[tokio::main]
async fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(20);
    let (cached, _) = cached_debian12().await;
    let tree = cached.tree();
    let scratch = Scratch::new("clone-bench");
    let mut drivers = Vec::new();
    for name in ["volume", "btrfs"] {
        let driver = StorageDriver::open(name, &scratch.path.join(name), POOL)
            .await
            .expect("open");
        driver
            .clone_image(&tree, "warm-up", Some(DISK))
            .await
            .expect("warm-up clone");
        drivers.push((driver, Vec::new()));
    }
    let load_before = load();
    for i in 0..n {
        for (driver, times) in &mut drivers {
            let started = Instant::now();
            driver
                .clone_image(&tree, &format!("c{i}"), Some(DISK))
                .await
                .expect("clone");
            times.push(started.elapsed());
        }
    }
    let load_after = load();
    println!(
        "clone of debian/12 with a 2 GiB disk limit, interleaved; load average {load_before} before, {load_after} after"
    );
    println!("| driver | n | p50 | p99 | max |");
    println!("|---|---|---|---|---|");
    for (driver, times) in &mut drivers {
        times.sort();
        println!(
            "| {} | {} | {:.1} ms | {:.1} ms | {:.1} ms |",
            driver.name(),
            times.len(),
            pct(times, 50),
            pct(times, 99),
            times.last().copied().unwrap_or_default().as_secs_f64() * 1000.0
        );
    }
    for (driver, _) in &drivers {
        for i in 0..n {
            driver.destroy(&format!("c{i}")).await.expect("destroy");
        }
        driver.destroy("warm-up").await.expect("destroy");
        driver.teardown().await.expect("teardown");
    }
}
