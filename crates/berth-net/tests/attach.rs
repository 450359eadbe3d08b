//! Bridge, netns and veth against the real kernel (root only): two instances reach each other
//! and the gateway over IPv4 and IPv6, and nothing is left after detach.

mod common;

use std::net::{SocketAddr, TcpListener};

use common::{TestBridge, TestInstance, output, tcp_echo, tcp_roundtrip};

#[test]
fn instances_reach_each_other_and_the_gateway() {
    if !common::is_root() {
        eprintln!("skipped: needs root");
        return;
    }
    let bridge = TestBridge::new(0);
    // Adopting the existing bridge is a no-op.
    bridge.0.ensure().expect("adopt bridge");
    let mut used = Vec::new();
    let a = TestInstance::attach(&bridge, &format!("ta{}", common::tag(0)), &mut used);
    let b = TestInstance::attach(&bridge, &format!("tb{}", common::tag(0)), &mut used);
    assert!(a.netns.exists());
    let links = output("ip", &["netns", "exec", &a.name_ns(), "ip", "-o", "link"]);
    assert!(
        links.contains("eth0")
            && links.contains(&berth_net::format_mac(berth_net::instance_mac(
                a.name.as_str()
            ))),
        "{links}"
    );

    // b → a over IPv4 and IPv6.
    let a4 = a.ipv4;
    let a6 = a.ipv6.expect("ipv6");
    let listeners = a
        .netns
        .run(move || {
            (
                TcpListener::bind((a4, 7000)).expect("bind v4"),
                TcpListener::bind((a6, 7000)).expect("bind v6"),
            )
        })
        .expect("in netns a");
    let echo4 = tcp_echo(listeners.0, 1);
    let echo6 = tcp_echo(listeners.1, 1);
    b.netns
        .run(move || {
            tcp_roundtrip(SocketAddr::from((a4, 7000)))?;
            tcp_roundtrip(SocketAddr::from((a6, 7000)))
        })
        .expect("in netns b")
        .expect("b reaches a");
    echo4.join().expect("echo v4");
    echo6.join().expect("echo v6");

    // a → the gateway (a listener in the host netns on the bridge address).
    let gw = bridge.0.plan.ipv4.gateway;
    let host = TcpListener::bind((gw, 0)).expect("bind gateway");
    let port = host.local_addr().expect("addr").port();
    let echo = tcp_echo(host, 1);
    a.netns
        .run(move || tcp_roundtrip(SocketAddr::from((gw, port))))
        .expect("in netns a")
        .expect("a reaches the gateway");
    echo.join().expect("echo gw");

    // Re-attaching replaces the pair and keeps the netns.
    let again = berth_net::attach(
        &bridge.0,
        &a.name,
        &berth_net::GuestLink {
            mac: berth_net::instance_mac(a.name.as_str()),
            ipv4: Some(a.ipv4),
            ipv6: a.ipv6,
            configure: true,
        },
    )
    .expect("re-attach");
    assert_eq!(again, a.netns);

    let (a_name, b_name) = (a.name.clone(), b.name.clone());
    let (a_veth, b_veth) = (
        berth_net::host_veth_name(a_name.as_str()),
        berth_net::host_veth_name(b_name.as_str()),
    );
    drop(a);
    drop(b);
    berth_net::detach(&a_name).expect("detach is idempotent");
    let bridge_name = bridge.0.name.clone();
    drop(bridge);
    let links = output("ip", &["-o", "link"]);
    let netns = output("ip", &["netns", "list"]);
    for gone in [&a_veth, &b_veth, &bridge_name] {
        assert!(!links.contains(gone.as_str()), "{gone} left in {links}");
    }
    for gone in [&a_name, &b_name] {
        assert!(!netns.contains(gone.as_str()), "{gone} left in {netns}");
    }
}
