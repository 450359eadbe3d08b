//! `berth-wg IFNAME`: a userspace WireGuard device in the foreground, for tests (berthd runs
//! the same code as its hidden `uplink-wg` subcommand).

fn main() {
    let Some(ifname) = std::env::args().nth(1) else {
        eprintln!("usage: berth-wg IFNAME");
        std::process::exit(2);
    };
    if let Err(e) = berth_net::wgdevice::run_userspace_device(&ifname) {
        eprintln!("berth-wg: {e}");
        std::process::exit(1);
    }
}
