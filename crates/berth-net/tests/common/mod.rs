//! Shared test fixtures: unique names, Drop guards that clean up even when a test fails, and a
//! tiny TCP/UDP echo used instead of ping.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::process::Command;
use std::time::Duration;

use berth_net::{BridgeConfig, GuestLink, NetnsPath, NetworkPlan};
use berth_types::InstanceName;

pub const TIMEOUT: Duration = Duration::from_secs(2);

/// A per-process, per-test unique tag.
pub fn tag(k: u32) -> String {
    format!("{}{k}", std::process::id())
}

/// A test bridge `bt<pid><k>` on its own /24 (10.231.X.0/24, fd42:231:X::/64), removed on drop.
pub struct TestBridge(pub BridgeConfig);

impl TestBridge {
    pub fn new(k: u32) -> Self {
        let octet = (std::process::id() % 50) * 5 + k;
        let plan = NetworkPlan::parse(
            &format!("10.231.{octet}.1/24"),
            Some(&format!("fd42:231:{octet}::1/64")),
        )
        .expect("test plan");
        let config = BridgeConfig {
            name: format!("bt{}", tag(k)),
            plan,
        };
        config.ensure().expect("bridge");
        Self(config)
    }
}

impl Drop for TestBridge {
    fn drop(&mut self) {
        let _ = self.0.remove();
    }
}

/// An attached test instance, detached on drop.
pub struct TestInstance {
    pub name: InstanceName,
    pub netns: NetnsPath,
    pub ipv4: std::net::Ipv4Addr,
    pub ipv6: Option<std::net::Ipv6Addr>,
}

impl TestInstance {
    pub fn attach(bridge: &TestBridge, name: &str, used: &mut Vec<std::net::IpAddr>) -> Self {
        let name = InstanceName::parse(name).expect("name");
        let alloc = bridge.0.plan.allocate(used).expect("allocate");
        used.push(alloc.ipv4.into());
        used.extend(alloc.ipv6.map(std::net::IpAddr::from));
        let guest = GuestLink {
            mac: berth_net::instance_mac(name.as_str()),
            ipv4: Some(alloc.ipv4),
            ipv6: alloc.ipv6,
            configure: true,
        };
        let netns = berth_net::attach(&bridge.0, &name, &guest).expect("attach");
        Self {
            name,
            netns,
            ipv4: alloc.ipv4,
            ipv6: alloc.ipv6,
        }
    }
}

impl TestInstance {
    /// The netns name, for `ip netns exec`.
    pub fn name_ns(&self) -> String {
        berth_net::netns_name(self.name.as_str())
    }
}

impl Drop for TestInstance {
    fn drop(&mut self) {
        let _ = berth_net::detach(&self.name);
    }
}

/// Serves `count` TCP echo connections on `listener` from a background thread.
pub fn tcp_echo(listener: TcpListener, count: usize) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        for _ in 0..count {
            let Ok((mut stream, _)) = listener.accept() else {
                return;
            };
            let _ = stream.set_read_timeout(Some(TIMEOUT));
            let mut buf = [0u8; 64];
            if let Ok(n) = stream.read(&mut buf) {
                let _ = stream.write_all(&buf[..n]);
            }
        }
    })
}

/// Serves `count` UDP echo datagrams.
pub fn udp_echo(socket: UdpSocket, count: usize) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let _ = socket.set_read_timeout(Some(Duration::from_secs(5)));
        for _ in 0..count {
            let mut buf = [0u8; 64];
            let Ok((n, from)) = socket.recv_from(&mut buf) else {
                return;
            };
            let _ = socket.send_to(&buf[..n], from);
        }
    })
}

/// Connects to `addr`, sends a line and expects it back.
pub fn tcp_roundtrip(addr: SocketAddr) -> std::io::Result<()> {
    let mut stream = TcpStream::connect_timeout(&addr, TIMEOUT)?;
    stream.set_read_timeout(Some(TIMEOUT))?;
    stream.write_all(b"berth")?;
    let mut buf = [0u8; 5];
    stream.read_exact(&mut buf)?;
    assert_eq!(&buf, b"berth");
    Ok(())
}

/// Sends a datagram to `addr` and expects it back.
pub fn udp_roundtrip(addr: SocketAddr) -> std::io::Result<()> {
    let bind = if addr.is_ipv4() {
        "0.0.0.0:0"
    } else {
        "[::]:0"
    };
    let socket = UdpSocket::bind(bind)?;
    socket.set_read_timeout(Some(TIMEOUT))?;
    socket.send_to(b"berth", addr)?;
    let mut buf = [0u8; 5];
    socket.recv_from(&mut buf)?;
    assert_eq!(&buf, b"berth");
    Ok(())
}

/// Output of a command, for leak checks.
pub fn output(cmd: &str, args: &[&str]) -> String {
    let out = Command::new(cmd).args(args).output().expect("run command");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn is_root() -> bool {
    nix::unistd::Uid::effective().is_root()
}
