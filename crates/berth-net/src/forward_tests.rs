//! Forward spec parsing, conflict checks and `/proc/net` parsing.

use std::net::{IpAddr, Ipv4Addr};

use super::*;

fn spec(raw: &str) -> ForwardSpec {
    ForwardSpec::parse_field(raw, "forward").expect(raw)
}

#[test]
fn specs_parse() {
    let s = spec("8080:80");
    assert_eq!(
        (s.listen, s.start, s.end, s.guest_port, s.protocol),
        (None, 8080, 8080, 80, Protocol::Tcp)
    );
    let s = spec("127.0.0.1:2222:22");
    assert_eq!(s.listen, Some(IpAddr::V4(Ipv4Addr::LOCALHOST)));
    let s = spec("[::]:53:53/udp");
    assert_eq!((s.listen, s.protocol), (None, Protocol::Udp));
    let s = spec("8000-8010:9000/tcp");
    assert_eq!((s.start, s.end, s.guest_port), (8000, 8010, 9000));
    for bad in [
        "",
        "80",
        "0:80",
        "8080:0",
        "x:80",
        "1.2.3:80:80",
        "80:80/sctp",
        "90-80:80",
        "1-2000:1",
        "[::1]:80:80",
        "65535-65535:65535",
        "100-200:65500",
    ] {
        if bad == "65535-65535:65535" {
            assert!(ForwardSpec::parse_field(bad, "f").is_ok());
            continue;
        }
        let err = ForwardSpec::parse_field(bad, "forwards.listen").expect_err(bad);
        assert_eq!(err.field, "forwards.listen");
    }
}

fn fwd(raw: &str) -> Forward {
    Forward {
        instance: "web1".into(),
        spec: spec(raw),
        guest4: Ipv4Addr::new(10, 88, 0, 2),
        guest6: None,
    }
}

#[test]
fn forwarded_ports_conflict() {
    let existing = [fwd("8080:80"), fwd("127.0.0.1:9000-9010:9000/udp")];
    let err = check_conflicts(&spec("8080:22"), &existing, &[]).expect_err("same port");
    assert!(
        matches!(err, ForwardError::Forwarded { port: 8080, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("8080"));
    assert!(check_conflicts(&spec("8080:80/udp"), &existing, &[]).is_ok());
    let err = check_conflicts(&spec("9005:53/udp"), &existing, &[]).expect_err("in range");
    assert!(matches!(err, ForwardError::Forwarded { port: 9005, .. }));
    assert!(check_conflicts(&spec("10.0.0.1:9005:53/udp"), &existing, &[]).is_ok());
    assert!(check_conflicts(&spec("8081:80"), &existing, &[]).is_ok());
}

#[test]
fn host_listeners_conflict() {
    let ssh = Listener {
        protocol: Protocol::Tcp,
        addr: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        port: 22,
    };
    let local = Listener {
        protocol: Protocol::Tcp,
        addr: IpAddr::V4(Ipv4Addr::LOCALHOST),
        port: 8440,
    };
    let err = check_conflicts(&spec("22:22"), &[], &[ssh]).expect_err("ssh");
    assert_eq!(
        err.to_string(),
        "host port 22/tcp is in use by a program on the host (0.0.0.0)"
    );
    assert!(check_conflicts(&spec("8440:80"), &[], &[local]).is_err());
    assert!(check_conflicts(&spec("127.0.0.1:8440:80"), &[], &[local]).is_err());
    assert!(check_conflicts(&spec("192.0.2.1:8440:80"), &[], &[local]).is_ok());
    assert!(check_conflicts(&spec("22:22/udp"), &[], &[ssh]).is_ok());
}

#[test]
fn proc_net_parses() {
    let tcp = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1 0 100 0 0 10 0
   1: 0100007F:1F91 0100007F:D000 01 00000000:00000000 00:00000000 00000000     0        0 1 1 0 100 0 0 10 0\n";
    let got = parse_proc_net(tcp, Protocol::Tcp);
    assert_eq!(
        got,
        vec![Listener {
            protocol: Protocol::Tcp,
            addr: IpAddr::V4(Ipv4Addr::LOCALHOST),
            port: 8080
        }]
    );
    let tcp6 = "header
   0: 00000000000000000000000001000000:0016 00000000000000000000000000000000:0000 0A 0 0 0 0 0\n";
    let got = parse_proc_net(tcp6, Protocol::Tcp);
    assert_eq!(got[0].addr, "::1".parse::<IpAddr>().expect("v6"));
    assert_eq!(got[0].port, 22);
    // The real files parse without panicking.
    let _ = host_listeners();
}
