//! IPAM and subnet validation tests.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::*;

fn plan() -> NetworkPlan {
    NetworkPlan::parse("10.88.0.1/24", Some("fd42:88::1/64")).expect("default plan")
}

fn v4(s: &str) -> IpAddr {
    IpAddr::V4(s.parse().expect("ipv4"))
}

#[test]
fn first_allocation_skips_network_and_gateway() {
    let a = plan().allocate(&[]).expect("allocate");
    assert_eq!(a.ipv4, Ipv4Addr::new(10, 88, 0, 2));
    assert_eq!(a.ipv6, Some("fd42:88::2".parse::<Ipv6Addr>().expect("v6")));
}

#[test]
fn ipv6_follows_the_ipv4_offset() {
    let p = plan();
    assert_eq!(
        p.ipv6_for(Ipv4Addr::new(10, 88, 0, 12)),
        Some("fd42:88::c".parse().expect("v6"))
    );
    assert_eq!(p.ipv6_for(Ipv4Addr::new(10, 99, 0, 12)), None);
}

#[test]
fn next_free_fills_holes_and_skips_used() {
    let used = [v4("10.88.0.2"), v4("10.88.0.3"), v4("10.88.0.5")];
    let a = plan().allocate(&used).expect("allocate");
    assert_eq!(a.ipv4, Ipv4Addr::new(10, 88, 0, 4));
}

#[test]
fn gateway_in_the_middle_is_skipped() {
    let p = NetworkPlan::parse("10.0.0.2/30", None).expect("plan");
    // 10.0.0.0 network, .1 free, .2 gateway, .3 broadcast
    let a = p.allocate(&[]).expect("allocate");
    assert_eq!(a.ipv4, Ipv4Addr::new(10, 0, 0, 1));
    assert_eq!(a.ipv6, None);
    let full = p.allocate(&[v4("10.0.0.1")]);
    assert_eq!(full, Err(IpamError::Full("10.0.0.0/30".into())));
}

#[test]
fn full_subnet_errors_and_never_gives_broadcast() {
    let p = NetworkPlan::parse("192.168.5.1/29", Some("fd00:5::1/64")).expect("plan");
    let mut used = Vec::new();
    while let Ok(a) = p.allocate(&used) {
        assert_ne!(a.ipv4, p.ipv4.broadcast());
        assert_ne!(a.ipv4, p.ipv4.network());
        assert_ne!(a.ipv4, p.ipv4.gateway);
        used.push(IpAddr::V4(a.ipv4));
        used.extend(a.ipv6.map(IpAddr::V6));
    }
    // .2 .. .6: five hosts
    assert_eq!(used.len(), 10);
    assert!(matches!(p.allocate(&used), Err(IpamError::Full(_))));
}

#[test]
fn ipv6_in_use_or_equal_to_the_gateway_is_skipped() {
    let p = NetworkPlan::parse("10.88.0.254/24", Some("fd42:88::1/64")).expect("plan");
    // .1 would map to the IPv6 gateway ::1
    let a = p.allocate(&[]).expect("allocate");
    assert_eq!(a.ipv4, Ipv4Addr::new(10, 88, 0, 2));
    let used = [IpAddr::V6("fd42:88::2".parse().expect("v6"))];
    assert_eq!(
        p.allocate(&used).expect("allocate").ipv4,
        Ipv4Addr::new(10, 88, 0, 3)
    );
}

#[test]
fn invalid_subnets_name_their_field() {
    for (v4, v6, field) in [
        ("10.88.0.1", None, "network.ipv4"),
        ("10.88.0.1/33", None, "network.ipv4"),
        ("10.88.0.1/31", None, "network.ipv4"),
        ("10.88.0.0/24", None, "network.ipv4"),
        ("10.88.0.255/24", None, "network.ipv4"),
        ("10.88.0.x/24", None, "network.ipv4"),
        ("127.0.0.1/8", None, "network.ipv4"),
        ("10.88.0.1/24", Some("fd42:88::1"), "network.ipv6"),
        ("10.88.0.1/24", Some("fd42:88::/64"), "network.ipv6"),
        ("10.88.0.1/24", Some("fd42:88::1/129"), "network.ipv6"),
        ("10.88.0.1/24", Some("10.0.0.1/64"), "network.ipv6"),
        ("10.88.0.1/16", Some("fd42:88::1/120"), "network.ipv6"),
    ] {
        let err = NetworkPlan::parse(v4, v6).expect_err(&format!("{v4} {v6:?} must fail"));
        assert_eq!(err.field, field, "{v4} {v6:?}: {err}");
    }
}

#[test]
fn overlap_with_host_networks_is_refused() {
    let p = plan();
    let host = [(v4("192.168.1.10"), 24), (v4("127.0.0.1"), 8)];
    assert!(p.check_overlap(&host).is_ok());
    let err = p
        .check_overlap(&[(v4("10.0.0.5"), 8)])
        .expect_err("overlap /8");
    assert_eq!(err.field, "network.ipv4");
    let err = p
        .check_overlap(&[(v4("10.88.0.77"), 28)])
        .expect_err("overlap /28");
    assert_eq!(err.field, "network.ipv4");
    let six = [(IpAddr::V6("fd42:88::99".parse().expect("v6")), 64)];
    assert_eq!(p.check_overlap(&six).expect_err("v6").field, "network.ipv6");
    let ll = [(IpAddr::V6("fe80::1".parse().expect("v6")), 64)];
    assert!(p.check_overlap(&ll).is_ok());
}
