//! A developer's tool for experiments: mounts SOURCE at TARGET idmapped to the guest range
//! starting at START, and reports how long making the namespace and the mount took.
//!
//! `cargo run -p berth-isolation --example idmount -- SOURCE TARGET START`

use std::path::Path;
use std::time::Instant;

use berth_isolation::{PrivateProc, UserNamespace, idmount};
use berth_types::IdRange;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [source, target, start] = args.as_slice() else {
        return Err("usage: idmount SOURCE TARGET START".into());
    };
    let range = IdRange::new(start.parse()?)?;
    let t0 = Instant::now();
    let proc = PrivateProc::new()?;
    let t1 = Instant::now();
    let userns = UserNamespace::new(range, &proc)?;
    let t2 = Instant::now();
    idmount::mount(Path::new(source), Path::new(target), &userns)?;
    let t3 = Instant::now();
    eprintln!(
        "procfs {:?}, userns {:?}, idmapped mount {:?}",
        t1 - t0,
        t2 - t1,
        t3 - t2
    );
    Ok(())
}
