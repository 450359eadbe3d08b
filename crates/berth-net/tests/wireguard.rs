//! Userspace WireGuard for real: two boringtun devices, each in a network namespace of its
//! own joined by a veth pair, configured over UAPI and netlink, carrying TCP and UDP through
//! the tunnel (IPv4 and IPv6). Everything made here is removed, also when the test fails.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use berth_net::NetnsPath;
use berth_net::wgdevice::{
    configure_device, generate_keypair, public_key, spawn_userspace_device, stop_userspace_device,
};
use berth_net::wguapi::{UapiConfig, UapiPeer};

fn root() -> bool {
    nix::unistd::geteuid().is_root()
}

fn ip(args: &[&str]) {
    let _ = Command::new("ip").args(args).status();
}

/// Everything the test creates, removed on drop.
struct Lab {
    tag: String,
    pid_files: Vec<(String, PathBuf)>,
    dir: tempfile::TempDir,
}

impl Drop for Lab {
    fn drop(&mut self) {
        for (ifname, pid_file) in &self.pid_files {
            stop_userspace_device(ifname, pid_file);
        }
        for side in ["a", "b"] {
            ip(&["netns", "del", &format!("{}{side}", self.tag)]);
        }
        let _ = &self.dir;
    }
}

#[test]
fn two_userspace_devices_carry_tcp_and_udp_through_the_tunnel()
-> Result<(), Box<dyn std::error::Error>> {
    if !root() {
        eprintln!("skipped: needs root (network namespaces, TUN)");
        return Ok(());
    }
    let tag = format!("bw{}", std::process::id() % 1_000_000);
    let mut lab = Lab {
        tag: tag.clone(),
        pid_files: Vec::new(),
        dir: tempfile::tempdir()?,
    };
    let (ns_a, ns_b) = (format!("{tag}a"), format!("{tag}b"));
    for ns in [&ns_a, &ns_b] {
        let created = Command::new("ip").args(["netns", "add", ns]).status()?;
        assert!(created.success(), "ip netns add {ns}");
        ip(&["-n", ns, "link", "set", "lo", "up"]);
    }
    let (veth_a, veth_b) = (format!("{tag}va"), format!("{tag}vb"));
    ip(&[
        "link", "add", &veth_a, "netns", &ns_a, "type", "veth", "peer", "name", &veth_b, "netns",
        &ns_b,
    ]);
    ip(&[
        "-n",
        &ns_a,
        "addr",
        "add",
        "192.168.250.1/30",
        "dev",
        &veth_a,
    ]);
    ip(&[
        "-n",
        &ns_b,
        "addr",
        "add",
        "192.168.250.2/30",
        "dev",
        &veth_b,
    ]);
    ip(&["-n", &ns_a, "link", "set", &veth_a, "up"]);
    ip(&["-n", &ns_b, "link", "set", &veth_b, "up"]);

    let (priv_a, pub_a) = generate_keypair()?;
    let (priv_b, pub_b) = generate_keypair()?;
    assert_eq!(public_key(&priv_a).as_deref(), Some(pub_a.as_str()));
    let helper = std::ffi::OsString::from(env!("CARGO_BIN_EXE_berth-wg"));
    let sides = [
        (
            &ns_a,
            format!("{tag}wa"),
            &priv_a,
            &pub_b,
            "192.168.250.2:51902",
            51901,
            ["10.250.0.1", "fd25::1"],
        ),
        (
            &ns_b,
            format!("{tag}wb"),
            &priv_b,
            &pub_a,
            "192.168.250.1:51901",
            51902,
            ["10.250.0.2", "fd25::2"],
        ),
    ];
    for (ns, ifname, private, peer_public, endpoint, port, [v4, v6]) in &sides {
        let pid_file = lab.dir.path().join(format!("{ifname}.pid"));
        let argv = [
            "ip".into(),
            "netns".into(),
            "exec".into(),
            std::ffi::OsString::from(ns.as_str()),
            helper.clone(),
        ];
        spawn_userspace_device(&argv, ifname, &pid_file)?;
        lab.pid_files.push((ifname.clone(), pid_file));
        let config = UapiConfig {
            private_key: (*private).clone(),
            listen_port: Some(*port),
            peers: vec![UapiPeer {
                public_key: (*peer_public).clone(),
                preshared_key: None,
                endpoint: Some((*endpoint).to_owned()),
                allowed_ips: vec!["10.250.0.0/24".into(), "fd25::/64".into()],
                keepalive: Some(1),
            }],
        };
        let addresses = vec![(v4.parse()?, 32), (v6.parse()?, 128)];
        let ifname = ifname.clone();
        NetnsPath::named(ns).run(move || configure_device(&ifname, &config, &addresses))??;
    }

    // TCP over IPv4 and IPv6, and a UDP datagram, from b to a through the tunnel.
    let ns_a_path = NetnsPath::named(&ns_a);
    let listeners = ns_a_path.run(|| -> std::io::Result<_> {
        Ok((
            TcpListener::bind("10.250.0.1:7000")?,
            TcpListener::bind("[fd25::1]:7000")?,
            UdpSocket::bind("[fd25::1]:7001")?,
        ))
    })??;
    let (tcp4, tcp6, udp) = listeners;
    for (listener, target) in [(tcp4, "10.250.0.1:7000"), (tcp6, "[fd25::1]:7000")] {
        let server = std::thread::spawn(move || -> std::io::Result<String> {
            let (mut stream, _) = listener.accept()?;
            let mut text = String::new();
            stream.read_to_string(&mut text)?;
            Ok(text)
        });
        let target = target.to_owned();
        NetnsPath::named(&ns_b).run(move || -> std::io::Result<()> {
            let mut stream = TcpStream::connect_timeout(
                &target.parse().map_err(std::io::Error::other)?,
                Duration::from_secs(10),
            )?;
            stream.write_all(b"through the tunnel")?;
            Ok(())
        })??;
        assert_eq!(
            server.join().map_err(|_| "server thread")??,
            "through the tunnel"
        );
    }
    udp.set_read_timeout(Some(Duration::from_secs(10)))?;
    NetnsPath::named(&ns_b).run(|| -> std::io::Result<()> {
        UdpSocket::bind("[fd25::2]:0")?.send_to(b"datagram", "[fd25::1]:7001")?;
        Ok(())
    })??;
    let mut buf = [0u8; 64];
    let (n, from) = udp.recv_from(&mut buf)?;
    assert_eq!(&buf[..n], b"datagram");
    assert_eq!(
        from.ip().to_string(),
        "fd25::2",
        "the datagram came through the tunnel"
    );
    drop(lab);
    Ok(())
}
