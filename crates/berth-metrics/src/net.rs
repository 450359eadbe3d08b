//! Network counters of a host interface (`/sys/class/net/<if>/statistics`).

use std::fs;
use std::path::{Path, PathBuf};

/// Byte and packet counters of one interface, as the host sees them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NetCounters {
    pub rx_bytes: u64,
    pub tx_bytes: u64,
    pub rx_packets: u64,
    pub tx_packets: u64,
}

impl NetCounters {
    /// The same counters from the other end of a veth pair: what the host end receives the
    /// guest sent.
    pub fn swapped(self) -> Self {
        Self {
            rx_bytes: self.tx_bytes,
            tx_bytes: self.rx_bytes,
            rx_packets: self.tx_packets,
            tx_packets: self.rx_packets,
        }
    }
}

/// Reads `<sys_class_net>/<ifname>/statistics/*`; `None` when the interface is missing.
pub fn read(sys_class_net: &Path, ifname: &str) -> Option<NetCounters> {
    let dir: PathBuf = sys_class_net.join(ifname).join("statistics");
    let get =
        |f: &str| -> Option<u64> { fs::read_to_string(dir.join(f)).ok()?.trim().parse().ok() };
    Some(NetCounters {
        rx_bytes: get("rx_bytes")?,
        tx_bytes: get("tx_bytes")?,
        rx_packets: get("rx_packets")?,
        tx_packets: get("tx_packets")?,
    })
}

/// Writes synthetic counters for tests and benchmarks.
pub fn write_synthetic(sys_class_net: &Path, ifname: &str, c: &NetCounters) -> std::io::Result<()> {
    let dir = sys_class_net.join(ifname).join("statistics");
    fs::create_dir_all(&dir)?;
    for (f, v) in [
        ("rx_bytes", c.rx_bytes),
        ("tx_bytes", c.tx_bytes),
        ("rx_packets", c.rx_packets),
        ("tx_packets", c.tx_packets),
    ] {
        fs::write(dir.join(f), format!("{v}\n"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_and_swaps() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let c = NetCounters {
            rx_bytes: 1,
            tx_bytes: 2,
            rx_packets: 3,
            tx_packets: 4,
        };
        write_synthetic(dir.path(), "vb1", &c)?;
        assert_eq!(read(dir.path(), "vb1"), Some(c));
        assert_eq!(read(dir.path(), "vb2"), None);
        assert_eq!(c.swapped().rx_bytes, 2);
        // The real loopback interface is always there.
        assert!(read(Path::new("/sys/class/net"), "lo").is_some());
        Ok(())
    }
}
