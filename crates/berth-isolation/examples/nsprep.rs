//! A developer's tool for experiments: makes a guest's user namespace (ids from START) and a
//! network namespace it owns, and binds them on USERNS_FILE and NETNS_FILE; with a fourth
//! argument also mounts ROOTFS idmapped on TARGET through that user namespace.
//!
//! `cargo run -p berth-isolation --example nsprep -- START USERNS_FILE NETNS_FILE [ROOTFS TARGET]`

use std::os::fd::AsFd;
use std::path::Path;
use std::time::Instant;

use berth_isolation::{PrivateProc, UserNamespace, idmount, nsfile};
use berth_types::IdRange;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (start, userns_file, netns_file) = match args.as_slice() {
        [s, u, n] | [s, u, n, _, _] => (s, u, n),
        _ => return Err("usage: nsprep START USERNS_FILE NETNS_FILE [ROOTFS TARGET]".into()),
    };
    let range = IdRange::new(start.parse()?)?;
    let t0 = Instant::now();
    let proc = PrivateProc::new()?;
    let (userns, netns) = UserNamespace::with_network(range, &proc)?;
    let t1 = Instant::now();
    nsfile::bind(userns.fd(), Path::new(userns_file))?;
    nsfile::bind(netns.as_fd(), Path::new(netns_file))?;
    let t2 = Instant::now();
    if let [_, _, _, rootfs, target] = args.as_slice() {
        idmount::mount(Path::new(rootfs), Path::new(target), &userns)?;
    }
    let t3 = Instant::now();
    eprintln!(
        "namespaces {:?}, bind {:?}, idmapped mount {:?}",
        t1 - t0,
        t2 - t1,
        t3 - t2
    );
    Ok(())
}
