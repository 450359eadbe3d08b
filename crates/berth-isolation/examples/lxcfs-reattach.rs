//! A developer's tool for experiments: re-binds lxcfs (mounted at LXCFS_MOUNT) into the
//! running guest whose init is PID, as berthd does after lxcfs was restarted.
//!
//! `cargo run -p berth-isolation --example lxcfs-reattach -- PID LXCFS_MOUNT`

use std::time::Instant;

use berth_isolation::PrivateProc;
use berth_isolation::lxcfs::{GUEST_FILES, GuestBind, reattach};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [pid, mount] = args.as_slice() else {
        return Err("usage: lxcfs-reattach PID LXCFS_MOUNT".into());
    };
    let binds: Vec<GuestBind> = GUEST_FILES
        .iter()
        .map(|target| GuestBind {
            source: std::path::Path::new(mount).join(target.trim_start_matches('/')),
            target,
        })
        .filter(|b| b.source.exists())
        .collect();
    let t = Instant::now();
    let n = reattach::reattach(pid.parse()?, &binds, &PrivateProc::new()?)?;
    eprintln!("{n} files re-attached in {:?}", t.elapsed());
    Ok(())
}
