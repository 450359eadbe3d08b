//! What making a guest unprivileged costs per launch, measured: a user namespace with its id
//! map (and a network namespace it owns), bound on files, and the root filesystem mounted
//! idmapped; then undone. Prints one table (n, p50, p99, max per step, and the load average).
//!
//! `cargo run --release -p berth-isolation --example nsbench -- ROOTFS [N]` (root; ROOTFS is
//! any directory on a filesystem that supports idmapped mounts).

use std::os::fd::AsFd;
use std::path::Path;
use std::time::{Duration, Instant};

use berth_isolation::{PrivateProc, UserNamespace, idmount, nsfile};
use berth_types::IdRange;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let rootfs = Path::new(args.first().ok_or("usage: nsbench ROOTFS [N]")?);
    let n: usize = args.get(1).map_or(Ok(200), |s| s.parse())?;
    let dir = tempfile::tempdir()?;
    let (user_file, net_file, target) = (
        dir.path().join("userns"),
        dir.path().join("netns"),
        dir.path().join("root"),
    );
    std::fs::create_dir(&target)?;
    let range = IdRange::new(0x7fe0_0000)?;
    let mut steps: [(&str, Vec<Duration>); 5] = [
        ("private procfs", Vec::new()),
        ("userns + netns (maps written)", Vec::new()),
        ("bind both on files", Vec::new()),
        ("idmapped rootfs mount", Vec::new()),
        ("undo (unmount, release)", Vec::new()),
    ];
    for _ in 0..n {
        let t0 = Instant::now();
        let proc = PrivateProc::new()?;
        let t1 = Instant::now();
        let (userns, netns) = UserNamespace::with_network(range, &proc)?;
        let t2 = Instant::now();
        nsfile::bind(userns.fd(), &user_file)?;
        nsfile::bind(netns.as_fd(), &net_file)?;
        let t3 = Instant::now();
        idmount::mount(rootfs, &target, &userns)?;
        let t4 = Instant::now();
        idmount::unmount(&target)?;
        nsfile::release(&user_file)?;
        nsfile::release(&net_file)?;
        let t5 = Instant::now();
        for (i, d) in [t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4]
            .into_iter()
            .enumerate()
        {
            steps[i].1.push(d);
        }
    }
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "n = {n}, load average {}",
        load.split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    );
    println!("{:<32} {:>10} {:>10} {:>10}", "step", "p50", "p99", "max");
    let mut total = vec![Duration::ZERO; n];
    for (name, mut times) in steps {
        for (t, d) in total.iter_mut().zip(&times) {
            *t += *d;
        }
        times.sort();
        println!(
            "{name:<32} {:>10.1?} {:>10.1?} {:>10.1?}",
            pct(&times, 50),
            pct(&times, 99),
            times[n - 1]
        );
    }
    total.sort();
    println!(
        "{:<32} {:>10.1?} {:>10.1?} {:>10.1?}",
        "total",
        pct(&total, 50),
        pct(&total, 99),
        total[n - 1]
    );
    Ok(())
}

fn pct(sorted: &[Duration], p: usize) -> Duration {
    sorted[(sorted.len() * p / 100).min(sorted.len() - 1)]
}
