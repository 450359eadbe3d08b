//! Address pool tests: a thousand guests in a /20, release and reuse, the full-subnet error.

use std::collections::HashSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::*;

fn plan20() -> NetworkPlan {
    NetworkPlan::parse("10.88.0.1/20", Some("fd42:88::1/64")).expect("default plan")
}

#[test]
fn a_thousand_allocations_in_a_slash_20_never_collide() {
    let mut pool = AddressPool::new(plan20(), []);
    let mut seen4 = HashSet::new();
    let mut seen6 = HashSet::new();
    for _ in 0..1_500 {
        let a = pool.allocate().expect("room in a /20");
        assert!(plan20().ipv4.contains(a.ipv4), "{}", a.ipv4);
        assert_ne!(a.ipv4, Ipv4Addr::new(10, 88, 0, 1), "the gateway");
        assert!(seen4.insert(a.ipv4), "{} handed out twice", a.ipv4);
        assert!(seen6.insert(a.ipv6.expect("v6")), "{:?} twice", a.ipv6);
    }
    assert_eq!(pool.held(), 1_500);
    // In order from .2, through the old /24's end into the rest of the /20.
    assert!(seen4.contains(&Ipv4Addr::new(10, 88, 0, 2)));
    assert!(seen4.contains(&Ipv4Addr::new(10, 88, 0, 255)));
    assert!(seen4.contains(&Ipv4Addr::new(10, 88, 1, 0)));
    assert!(seen4.contains(&Ipv4Addr::new(10, 88, 5, 221)));
}

#[test]
fn a_slash_20_holds_4093_and_then_says_what_to_do() {
    let mut pool = AddressPool::new(plan20(), []);
    let mut count = 0;
    let err = loop {
        match pool.allocate() {
            Ok(a) => {
                assert_ne!(a.ipv4, Ipv4Addr::new(10, 88, 15, 255), "broadcast");
                count += 1;
            }
            Err(e) => break e,
        }
    };
    assert_eq!(count, 4_093);
    let text = err.to_string();
    assert!(text.contains("network.ipv4"), "{text}");
    assert!(text.contains("10.88.0.0/20"), "{text}");
    assert!(
        text.contains("wider subnet") && text.contains("delete"),
        "{text}"
    );
}

#[test]
fn released_addresses_are_reused_oldest_first() {
    let mut pool = AddressPool::new(plan20(), []);
    let a: Vec<_> = (0..10)
        .map(|_| pool.allocate().expect("allocate").ipv4)
        .collect();
    pool.release(a[3]);
    pool.release(a[1]);
    pool.release(a[1]); // twice is once
    pool.release(Ipv4Addr::new(192, 168, 0, 9)); // not ours
    assert_eq!(pool.held(), 8);
    assert_eq!(pool.allocate().expect("reuse").ipv4, a[3]);
    assert_eq!(pool.allocate().expect("reuse").ipv4, a[1]);
    assert_eq!(
        pool.allocate().expect("fresh").ipv4,
        Ipv4Addr::new(10, 88, 0, 12)
    );
}

#[test]
fn a_full_pool_frees_up_after_a_release() {
    let p = NetworkPlan::parse("192.168.5.1/29", None).expect("plan");
    let mut pool = AddressPool::new(p, []);
    let held: Vec<_> = (0..5)
        .map(|_| pool.allocate().expect("five hosts"))
        .collect();
    assert!(matches!(pool.allocate(), Err(IpamError::Full(_))));
    pool.release(held[2].ipv4);
    assert_eq!(pool.allocate().expect("reused").ipv4, held[2].ipv4);
    assert!(pool.allocate().is_err());
}

#[test]
fn built_from_the_store_it_fills_holes_lowest_first_then_goes_on() {
    let in_use = [
        IpAddr::V4(Ipv4Addr::new(10, 88, 0, 2)),
        IpAddr::V6("fd42:88::3".parse::<Ipv6Addr>().expect("v6")),
        IpAddr::V4(Ipv4Addr::new(10, 88, 0, 6)),
        IpAddr::V4(Ipv4Addr::new(10, 77, 0, 4)), // another subnet: ignored
    ];
    let mut pool = AddressPool::new(plan20(), in_use);
    assert_eq!(pool.held(), 3);
    let next: Vec<_> = (0..4)
        .map(|_| pool.allocate().expect("allocate").ipv4.octets()[3])
        .collect();
    assert_eq!(next, [4, 5, 7, 8]);
}

#[test]
fn an_address_held_elsewhere_is_skipped() {
    let mut pool = AddressPool::new(plan20(), []);
    pool.hold(IpAddr::V4(Ipv4Addr::new(10, 88, 0, 2)));
    pool.hold(IpAddr::V6("fd42:88::3".parse().expect("v6")));
    assert_eq!(
        pool.allocate().expect("allocate").ipv4,
        Ipv4Addr::new(10, 88, 0, 4)
    );
    // Held while queued as released: skipped when its turn comes.
    pool.release(Ipv4Addr::new(10, 88, 0, 2));
    pool.hold(IpAddr::V4(Ipv4Addr::new(10, 88, 0, 2)));
    assert_eq!(
        pool.allocate().expect("allocate").ipv4,
        Ipv4Addr::new(10, 88, 0, 5)
    );
}

#[test]
fn the_old_slash_24_addresses_stay_valid_in_the_slash_20() {
    let old = NetworkPlan::parse("10.88.0.1/24", Some("fd42:88::1/64")).expect("old");
    let new = plan20();
    for last in 2..=254u8 {
        let addr = Ipv4Addr::new(10, 88, 0, last);
        assert!(new.ipv4.contains(addr));
        assert_eq!(old.ipv6_for(addr), new.ipv6_for(addr), "{addr}");
    }
}
