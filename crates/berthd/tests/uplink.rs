//! IPv6 uplinks end to end: what the host can do (no sit, no kernel WireGuard here), refusals
//! that leave the host as it was, a native routed prefix reaching a guest, and a WireGuard
//! uplink in userspace to a peer in a network namespace the test makes — a guest's traffic
//! to the peer goes through the tunnel.

#[path = "common/real.rs"]
mod real;

use std::io::Read;
use std::net::TcpListener;
use std::process::Command;
use std::time::Duration;

use berth_net::NetnsPath;
use berth_net::wgdevice::{
    configure_device, generate_keypair, spawn_userspace_device, stop_userspace_device,
};
use berth_net::wguapi::{UapiConfig, UapiPeer};
use real::{Error, RealDaemon};

fn ip(args: &[&str]) -> String {
    Command::new("ip")
        .args(args)
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default()
}

/// Waits until `addr` is on the guest's eth0 and past duplicate address detection.
fn wait_global(d: &RealDaemon, guest: &str, addr: &str) -> Result<(), Error> {
    for _ in 0..100 {
        let (_, shown) = d.exec(guest, &["ip", "-6", "addr", "show", "dev", "eth0"])?;
        let (_, tentative) = d.exec(
            guest,
            &["ip", "-6", "addr", "show", "dev", "eth0", "tentative"],
        )?;
        if shown.contains(addr) && !tentative.contains(addr) {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    Err(format!("{guest} never got {addr}").into())
}

/// A peer "broker" in a netns of its own, with a userspace WireGuard device; removed on drop.
struct Peer {
    ns: String,
    ifname: String,
    host_if: String,
    pid_file: std::path::PathBuf,
}

impl Drop for Peer {
    fn drop(&mut self) {
        stop_userspace_device(&self.ifname, &self.pid_file);
        ip(&["link", "del", &self.host_if]);
        ip(&["netns", "del", &self.ns]);
    }
}

#[test]
fn ipv6_uplinks_refuse_what_cannot_work_and_carry_guest_traffic() -> Result<(), Error> {
    let d = RealDaemon::start(&[])?;
    d.ensure_image()?;
    let bridge = d.net.bridge.clone();
    let net = d.json(&["network"])?;
    let caps = &net["capabilities"];
    assert_eq!(caps["sit"]["available"], false, "{net}");
    assert!(
        caps["sit"]["reason"]
            .as_str()
            .is_some_and(|r| r.contains("sit")),
        "{net}"
    );
    assert_eq!(caps["wireguard_userspace"]["available"], true, "{net}");
    assert_eq!(net["ipv6_uplink"]["mode"], "none");

    // Refusals name the field and change nothing on the host.
    let before = ip(&["-6", "addr", "show", "dev", &bridge]);
    let dir = tempfile::tempdir()?;
    let (host_private, host_public) = generate_keypair()?;
    let (peer_private, peer_public) = generate_keypair()?;
    let hooked = dir.path().join("hooked.conf");
    std::fs::write(
        &hooked,
        format!("[Interface]\nPrivateKey = {host_private}\nPostUp = touch /tmp/pwned\n"),
    )?;
    let badkey = dir.path().join("badkey.conf");
    std::fs::write(&badkey, "[Interface]\nPrivateKey = nope\n")?;
    let refusals: Vec<(Vec<&str>, &str)> = vec![
        (vec!["native", "--prefix", "2001:db8:5::/96"], "prefix"),
        (vec!["native", "--prefix", "not-a-prefix"], "prefix"),
        (
            vec![
                "6in4",
                "--server",
                "192.0.2.1",
                "--local",
                "192.0.2.2",
                "--client",
                "2001:db8:1::2/64",
                "--prefix",
                "2001:db8:2::/48",
            ],
            "sit",
        ),
        (
            vec![
                "6in4",
                "--server",
                "nope",
                "--local",
                "192.0.2.2",
                "--client",
                "2001:db8:1::2/64",
                "--prefix",
                "2001:db8:2::/48",
            ],
            "server_ipv4",
        ),
        (
            vec!["wireguard", "--config", hooked.to_str().unwrap_or_default()],
            "PostUp",
        ),
        (
            vec!["wireguard", "--config", badkey.to_str().unwrap_or_default()],
            "line 2",
        ),
    ];
    for (args, want) in refusals {
        let mut cmd = vec!["network", "ipv6"];
        cmd.extend(&args);
        let out = d.berth(&cmd)?;
        assert!(!out.status.success(), "{args:?} was accepted");
        let message = String::from_utf8_lossy(&out.stderr);
        assert!(message.contains(want), "{args:?}: {message}");
    }
    assert_eq!(
        ip(&["-6", "addr", "show", "dev", &bridge]),
        before,
        "refusals changed the bridge"
    );
    assert!(!std::path::Path::new("/tmp/pwned").exists());

    // Native: the bridge takes the prefix's first /64; a guest gets an address from it.
    d.ok(&["network", "ipv6", "native", "--prefix", "2001:db8:77::/48"])?;
    assert!(ip(&["-6", "addr", "show", "dev", &bridge]).contains("2001:db8:77::1/64"));
    let native = d.name("v6n");
    d.ok(&["launch", "debian/12", &native, "--memory", "256MiB"])?;
    d.exec(&native, &["systemctl", "is-system-running", "--wait"])?;
    // systemd-networkd adds it once it runs; give it a moment.
    wait_global(&d, &native, "2001:db8:77::2/64")?;
    let (code, out) = d.exec(
        &native,
        &["ping", "-6", "-c", "1", "-W", "3", "2001:db8:77::1"],
    )?;
    assert_eq!(code, 0, "the guest reaches its global gateway: {out}");
    d.ok(&["delete", "--force", &native])?;

    // WireGuard in userspace to a peer netns; routed prefix for the guests through it.
    let tag = d.id.clone();
    let peer = Peer {
        ns: format!("{tag}p"),
        ifname: format!("{tag}pw"),
        host_if: format!("{tag}ph"),
        pid_file: dir.path().join("peer.pid"),
    };
    let octet = 200 + std::process::id() % 50;
    let (host_v4, peer_v4) = (format!("10.{octet}.201.1"), format!("10.{octet}.201.2"));
    ip(&["netns", "add", &peer.ns]);
    ip(&[
        "link",
        "add",
        &peer.host_if,
        "type",
        "veth",
        "peer",
        "name",
        "eth0",
        "netns",
        &peer.ns,
    ]);
    ip(&[
        "addr",
        "add",
        &format!("{host_v4}/30"),
        "dev",
        &peer.host_if,
    ]);
    ip(&["link", "set", &peer.host_if, "up"]);
    ip(&[
        "-n",
        &peer.ns,
        "addr",
        "add",
        &format!("{peer_v4}/30"),
        "dev",
        "eth0",
    ]);
    ip(&["-n", &peer.ns, "link", "set", "eth0", "up"]);
    ip(&["-n", &peer.ns, "link", "set", "lo", "up"]);
    let helper = vec![
        "ip".into(),
        "netns".into(),
        "exec".into(),
        peer.ns.clone().into(),
        real::berthd_bin().into_os_string(),
        "uplink-wg".into(),
    ];
    spawn_userspace_device(&helper, &peer.ifname, &peer.pid_file)?;
    let peer_config = UapiConfig {
        private_key: peer_private,
        listen_port: Some(51999),
        peers: vec![UapiPeer {
            public_key: host_public.clone(),
            preshared_key: None,
            endpoint: None,
            allowed_ips: vec!["fd77:1::2/128".into(), "2001:db8:88::/48".into()],
            keepalive: None,
        }],
    };
    let ifname = peer.ifname.clone();
    NetnsPath::named(&peer.ns).run(move || {
        let tunnel = "fd77:1::1".parse().map_err(|_| "addr")?;
        let service = "2001:db8:99::1".parse().map_err(|_| "addr")?;
        configure_device(&ifname, &peer_config, &[(tunnel, 64), (service, 64)])
            .map_err(|e| e.to_string())
    })??;

    let config = dir.path().join("uplink.conf");
    std::fs::write(
        &config,
        format!(
            "[Interface]\nPrivateKey = {host_private}\nAddress = fd77:1::2/64\n\n[Peer]\n\
             PublicKey = {peer_public}\nEndpoint = {peer_v4}:51999\nAllowedIPs = fd77:1::/64, 2001:db8:99::/64\n\
             PersistentKeepalive = 1\n"
        ),
    )?;
    let info = d.json(&[
        "network",
        "ipv6",
        "wireguard",
        "--config",
        config.to_str().unwrap_or_default(),
        "--prefix",
        "2001:db8:88::/48",
    ])?;
    assert_eq!(info["mode"], "wireguard", "{info}");
    assert_eq!(info["public_key"], host_public.as_str(), "{info}");
    assert_eq!(info["implementation"], "userspace");

    let listener =
        NetnsPath::named(&peer.ns).run(|| TcpListener::bind("[2001:db8:99::1]:7100"))??;
    let server = std::thread::spawn(move || -> std::io::Result<(String, String)> {
        let (mut stream, from) = listener.accept()?;
        let mut text = String::new();
        stream.read_to_string(&mut text)?;
        Ok((from.ip().to_string(), text))
    });
    let guest = d.name("v6w");
    d.ok(&["launch", "debian/12", &guest, "--memory", "256MiB"])?;
    d.exec(&guest, &["systemctl", "is-system-running", "--wait"])?;
    wait_global(&d, &guest, "2001:db8:88::2/64")?;
    let (code, out) = d.exec(
        &guest,
        &[
            "bash",
            "-c",
            "echo -n from-the-guest > /dev/tcp/2001:db8:99::1/7100",
        ],
    )?;
    if code != 0 {
        let (_, guest_net) = d.exec(
            &guest,
            &[
                "sh",
                "-c",
                "ip -6 addr; ip -6 route; cat /etc/systemd/network/*.network",
            ],
        )?;
        let host = ip(&["-6", "route"]);
        let peer_routes = ip(&["-n", &peer.ns, "-6", "route"]);
        let peer_addrs = ip(&["-n", &peer.ns, "-6", "addr"]);
        panic!("guest:\n{guest_net}\nhost:\n{host}\npeer:\n{peer_routes}\n{peer_addrs}\n{out}");
    }
    let (from, text) = server.join().map_err(|_| "server thread")??;
    assert_eq!(text, "from-the-guest");
    assert_eq!(
        from, "2001:db8:88::2",
        "the guest's global address, through the tunnel"
    );

    // Back to none: the tunnel process and interface are gone.
    d.ok(&["network", "ipv6", "none"])?;
    assert!(ip(&["link", "show", &format!("{bridge}-wg")]).is_empty());
    assert!(!d.runtime_dir.join("uplink-wg.pid").exists());
    std::thread::sleep(Duration::from_millis(100));
    drop(peer);
    Ok(())
}
