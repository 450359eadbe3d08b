//! nftables port forwards against the real kernel (root only): TCP and UDP forwards reach a
//! listener inside an instance netns from the host's 127.0.0.1 and from a client on another
//! bridge; conflicts are refused; the table goes away cleanly.

mod common;

use std::net::{Ipv4Addr, SocketAddr, TcpListener, UdpSocket};

use berth_net::{Firewall, Forward, ForwardError, ForwardSpec, check_conflicts, host_listeners};
use common::{TestBridge, TestInstance, output, tcp_echo, tcp_roundtrip, udp_echo, udp_roundtrip};

/// Removes the test table on drop.
struct TableGuard(String);

impl Drop for TableGuard {
    fn drop(&mut self) {
        let _ = berth_net::remove_table(&self.0);
    }
}

fn free_port() -> u16 {
    let l = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind");
    let u = UdpSocket::bind((Ipv4Addr::LOCALHOST, l.local_addr().expect("addr").port()));
    match u {
        Ok(_) => l.local_addr().expect("addr").port(),
        Err(_) => free_port(),
    }
}

#[test]
fn forwards_reach_the_guest_from_host_and_outside() {
    if !common::is_root() {
        eprintln!("skipped: needs root");
        return;
    }
    let bridge = TestBridge::new(1);
    let outside = TestBridge::new(2);
    let mut used = Vec::new();
    let guest = TestInstance::attach(&bridge, &format!("tg{}", common::tag(1)), &mut used);
    let mut used2 = Vec::new();
    let client = TestInstance::attach(&outside, &format!("tc{}", common::tag(2)), &mut used2);

    let (tcp_port, udp_port) = (free_port(), free_port());
    let forward = |raw: &str| Forward {
        instance: guest.name.to_string(),
        spec: ForwardSpec::parse_field(raw, "forward").expect("spec"),
        guest4: guest.ipv4,
        guest6: guest.ipv6,
    };
    let forwards = vec![
        forward(&format!("{tcp_port}:7001")),
        forward(&format!("{udp_port}:7002/udp")),
    ];
    // Conflicts: the same host port again, and a port a host program holds.
    let again = ForwardSpec::parse_field(&format!("{tcp_port}:22"), "f").expect("spec");
    assert!(matches!(
        check_conflicts(&again, &forwards, &[]),
        Err(ForwardError::Forwarded { port, .. }) if port == tcp_port
    ));
    let held = TcpListener::bind((Ipv4Addr::UNSPECIFIED, 0)).expect("bind held");
    let held_port = held.local_addr().expect("addr").port();
    let spec = ForwardSpec::parse_field(&format!("{held_port}:80"), "f").expect("spec");
    let err = check_conflicts(&spec, &forwards, &host_listeners()).expect_err("held port");
    assert!(err.to_string().contains(&held_port.to_string()), "{err}");
    drop(held);

    let table = format!("berth_t{}", std::process::id());
    let _guard = TableGuard(table.clone());
    let firewall = Firewall {
        table: table.clone(),
        bridge: bridge.0.clone(),
        forwards,
    };
    firewall.apply().expect("apply");
    firewall.apply().expect("apply again is idempotent");
    assert_eq!(
        output("nft", &["list", "tables"])
            .matches(&format!("inet {table}\n"))
            .count(),
        1
    );

    let g4 = guest.ipv4;
    let (tcp, udp) = guest
        .netns
        .run(move || {
            (
                TcpListener::bind((g4, 7001)).expect("bind tcp"),
                UdpSocket::bind((g4, 7002)).expect("bind udp"),
            )
        })
        .expect("in guest netns");
    let tcp_server = tcp_echo(tcp, 2);
    let udp_server = udp_echo(udp, 2);

    // From the host itself, through 127.0.0.1.
    tcp_roundtrip(SocketAddr::from((Ipv4Addr::LOCALHOST, tcp_port))).expect("tcp via 127.0.0.1");
    udp_roundtrip(SocketAddr::from((Ipv4Addr::LOCALHOST, udp_port))).expect("udp via 127.0.0.1");
    // From outside: a client on another bridge connects to the host address it sees.
    let host_addr = outside.0.plan.ipv4.gateway;
    client
        .netns
        .run(move || {
            tcp_roundtrip(SocketAddr::from((host_addr, tcp_port)))?;
            udp_roundtrip(SocketAddr::from((host_addr, udp_port)))
        })
        .expect("in client netns")
        .expect("client reaches the forwards");
    tcp_server.join().expect("tcp server");
    udp_server.join().expect("udp server");

    berth_net::remove_table(&table).expect("remove table");
    berth_net::remove_table(&table).expect("remove again is fine");
    assert!(!output("nft", &["list", "tables"]).contains(&format!("inet {table}\n")));
}

#[test]
fn bad_table_names_are_refused() {
    assert!(berth_net::remove_table("x; flush ruleset").is_err());
    assert!(berth_net::remove_table("").is_err());
}
