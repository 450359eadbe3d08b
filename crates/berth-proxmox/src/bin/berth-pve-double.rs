//! Runs the Proxmox VE test double in the foreground, for manual and UI tests:
//! `berth-pve-double [--listen 127.0.0.1:8006] [--nodes 3] [--offline pve3]`.
//! Prints the URL, token and fingerprint as `[proxmox]` config lines.

use std::time::Duration;

use berth_proxmox::double::{Double, DoubleConfig, NodeSpec};

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut listen = "127.0.0.1:8006".to_owned();
    let mut nodes = 1usize;
    let mut offline = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or(format!("{arg} needs a value"));
        match arg.as_str() {
            "--listen" => listen = value()?,
            "--nodes" => nodes = value()?.parse()?,
            "--offline" => offline.push(value()?),
            other => {
                return Err(
                    format!("unknown argument {other:?}; see the source's first lines").into(),
                );
            }
        }
    }
    let config = DoubleConfig {
        nodes: (1..=nodes)
            .map(|i| NodeSpec::new(&format!("pve{i}"), 16 * i as u64, 2))
            .collect(),
        task_time: Duration::from_millis(800),
        ..DoubleConfig::default()
    };
    let double = Double::start_on(config, &listen).await?;
    for node in &offline {
        double.set_node_online(node, false);
    }
    println!("[proxmox]");
    println!("url = {:?}", double.url());
    println!("token_id = {:?}", double.token_id());
    println!("token_secret = {:?}", double.token_secret());
    println!("fingerprint = {:?}", double.fingerprint());
    tokio::signal::ctrl_c().await?;
    Ok(())
}
