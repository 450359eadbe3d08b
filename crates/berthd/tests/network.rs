//! Networking end to end with real guests and the real OpenSSH client: key and password login
//! on the instance's address, through forwards on 127.0.0.1 and from a client network namespace
//! this test makes; password changes; guests reaching each other and the gateway; nothing left
//! after delete. Traffic goes only to loopback and this test's own bridge and namespaces.

#[path = "common/real.rs"]
mod real;

use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use real::{Error, RealDaemon};
use serde_json::Value;

const SSH_OPTS: &[&str] = &[
    "-o",
    "StrictHostKeyChecking=no",
    "-o",
    "UserKnownHostsFile=/dev/null",
    "-o",
    "LogLevel=ERROR",
    "-o",
    "ConnectTimeout=5",
];

/// `ssh` as root to `host:port` with a key (no password prompts); runs `command`.
fn ssh_key(prefix: &[&str], key: &Path, host: &str, port: u16, command: &str) -> Output {
    let port = port.to_string();
    let mut args: Vec<&str> = prefix.to_vec();
    args.extend(["timeout", "30", "ssh"]);
    args.extend(SSH_OPTS);
    args.extend(["-o", "BatchMode=yes", "-o", "PasswordAuthentication=no"]);
    let target = format!("root@{host}");
    args.extend(["-i", key.to_str().unwrap_or_default(), "-p", &port]);
    args.extend([target.as_str(), command]);
    run(&args)
}

/// `sshpass` + `ssh` as root with only password authentication allowed.
fn ssh_password(prefix: &[&str], password: &str, host: &str, port: u16, command: &str) -> Output {
    let port = port.to_string();
    let target = format!("root@{host}");
    let mut args: Vec<&str> = prefix.to_vec();
    args.extend(["timeout", "30", "sshpass", "-e", "ssh"]);
    args.extend(SSH_OPTS);
    args.extend([
        "-o",
        "PubkeyAuthentication=no",
        "-o",
        "PreferredAuthentications=password,keyboard-interactive",
        "-o",
        "NumberOfPasswordPrompts=1",
        "-p",
        &port,
        &target,
        command,
    ]);
    let (program, rest) = args.split_first().unwrap_or((&"true", &[]));
    Command::new(program)
        .args(rest)
        .env("SSHPASS", password)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| failed_output(&e.to_string()))
}

fn run(args: &[&str]) -> Output {
    let (program, rest) = args.split_first().unwrap_or((&"true", &[]));
    Command::new(program)
        .args(rest)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| failed_output(&e.to_string()))
}

fn failed_output(why: &str) -> Output {
    Output {
        status: std::os::unix::process::ExitStatusExt::from_raw(127 << 8),
        stdout: Vec::new(),
        stderr: why.as_bytes().to_vec(),
    }
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

fn explain(out: &Output) -> String {
    format!(
        "exit {:?}, stdout {:?}, stderr {:?}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Waits until something accepts TCP connections on `addr`.
fn wait_port(addr: &str, within: Duration) -> Result<(), Error> {
    let addr: SocketAddr = addr.parse()?;
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if TcpStream::connect_timeout(&addr, Duration::from_millis(500)).is_ok() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    Err(format!("nothing listens on {addr} after {within:?}").into())
}

/// A free TCP port on 127.0.0.1 (free when asked; the forward claims it next).
fn free_port() -> Result<u16, Error> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// A client network namespace joined to the host by a veth pair: a machine on the LAN.
struct ClientNs {
    name: String,
    host_if: String,
    host_addr: String,
}

impl ClientNs {
    fn create(tag: &str, octets: (u32, u32)) -> Result<Self, Error> {
        let ns = Self {
            name: format!("{tag}c"),
            host_if: format!("{tag}h"),
            host_addr: format!("10.{}.{}.1", octets.0, octets.1),
        };
        let peer = format!("{tag}p");
        let cmds: Vec<Vec<String>> = vec![
            vec!["ip", "netns", "add", &ns.name],
            vec![
                "ip",
                "link",
                "add",
                &ns.host_if,
                "type",
                "veth",
                "peer",
                "name",
                &peer,
                "netns",
                &ns.name,
            ],
            vec![
                "ip",
                "addr",
                "add",
                &format!("{}/30", ns.host_addr),
                "dev",
                &ns.host_if,
            ],
            vec!["ip", "link", "set", &ns.host_if, "up"],
            vec![
                "ip",
                "-n",
                &ns.name,
                "addr",
                "add",
                &format!("10.{}.{}.2/30", octets.0, octets.1),
                "dev",
                &peer,
            ],
            vec!["ip", "-n", &ns.name, "link", "set", &peer, "up"],
            vec!["ip", "-n", &ns.name, "link", "set", "lo", "up"],
        ]
        .into_iter()
        .map(|v| v.into_iter().map(str::to_owned).collect())
        .collect();
        for cmd in cmds {
            let args: Vec<&str> = cmd.iter().map(String::as_str).collect();
            let out = run(&args);
            if !out.status.success() {
                return Err(format!("{cmd:?}: {}", explain(&out)).into());
            }
        }
        Ok(ns)
    }

    fn prefix(&self) -> Vec<&str> {
        vec!["ip", "netns", "exec", &self.name]
    }
}

impl Drop for ClientNs {
    fn drop(&mut self) {
        let _ = run(&["ip", "link", "del", &self.host_if]);
        let _ = run(&["ip", "netns", "del", &self.name]);
    }
}

fn nft_table(d: &RealDaemon) -> String {
    stdout(&run(&["nft", "list", "table", "inet", &d.net.table]))
}

#[test]
fn ssh_by_key_and_password_on_the_address_through_forwards_and_from_a_lan() -> Result<(), Error> {
    let d = RealDaemon::start(&[])?;
    d.ensure_image()?;
    let keys = tempfile::tempdir()?;
    let key = keys.path().join("id_ed25519");
    let out = run(&[
        "ssh-keygen",
        "-q",
        "-t",
        "ed25519",
        "-N",
        "",
        "-C",
        "berth-test",
        "-f",
        key.to_str().unwrap_or_default(),
    ]);
    assert!(out.status.success(), "ssh-keygen: {}", explain(&out));
    let public = keys.path().join("id_ed25519.pub");

    let (a, b) = (d.name("sa"), d.name("sb"));
    let first_password = "First!pass-1234";
    d.ok(&[
        "launch",
        "debian/12",
        &a,
        "--memory",
        "256MiB",
        "--password",
        first_password,
        "--ssh-key",
        public.to_str().unwrap_or_default(),
    ])?;
    d.ok(&[
        "launch",
        "debian/12",
        &b,
        "--memory",
        "256MiB",
        "--ssh-key",
        public.to_str().unwrap_or_default(),
    ])?;
    let info_a = d.json(&["info", &a])?;
    let info_b = d.json(&["info", &b])?;
    let ip_a = info_a["network"]["ipv4"]
        .as_str()
        .ok_or("no ipv4 for a")?
        .to_owned();
    let ip_b = info_b["network"]["ipv4"]
        .as_str()
        .ok_or("no ipv4 for b")?
        .to_owned();
    let ip6_a = info_a["network"]["ipv6"]
        .as_str()
        .ok_or("no ipv6 for a")?
        .to_owned();
    wait_port(&format!("{ip_a}:22"), Duration::from_secs(60))?;
    wait_port(&format!("{ip_b}:22"), Duration::from_secs(60))?;

    // Key and password on the instance's own addresses.
    let out = ssh_key(&[], &key, &ip_a, 22, "hostname");
    assert_eq!(stdout(&out), a, "key login on {ip_a}: {}", explain(&out));
    let out = ssh_key(&[], &key, &ip6_a, 22, "hostname");
    assert_eq!(stdout(&out), a, "key login on [{ip6_a}]: {}", explain(&out));
    let out = ssh_password(&[], first_password, &ip_a, 22, "id -un");
    assert_eq!(stdout(&out), "root", "password login: {}", explain(&out));
    let out = ssh_password(&[], "wrong-password-1", &ip_a, 22, "true");
    assert!(!out.status.success(), "a wrong password must fail");
    // b was given only a key: password login is refused outright.
    let out = ssh_password(&[], first_password, &ip_b, 22, "true");
    assert!(!out.status.success(), "b allows no password login");
    let out = ssh_key(&[], &key, &ip_b, 22, "hostname");
    assert_eq!(stdout(&out), b, "{}", explain(&out));

    // Distinct host keys, as the real client sees them.
    let scan = |ip: &str| stdout(&run(&["ssh-keyscan", "-T", "5", "-t", "ed25519", ip]));
    let (key_a, key_b) = (scan(&ip_a), scan(&ip_b));
    let fingerprint = |line: &str| {
        line.split_whitespace()
            .nth(2)
            .unwrap_or_default()
            .to_owned()
    };
    assert!(!fingerprint(&key_a).is_empty(), "keyscan a: {key_a:?}");
    assert_ne!(
        fingerprint(&key_a),
        fingerprint(&key_b),
        "host keys are per instance"
    );

    // The guests reach each other and the gateway.
    let gateway = d.net.gateway4().to_owned();
    for target in [ip_b.as_str(), gateway.as_str()] {
        let (code, out) = d.exec(&a, &["ping", "-c", "1", "-W", "3", target])?;
        assert_eq!(code, 0, "{a} pings {target}: {out}");
    }
    let (code, out) = d.exec(
        &b,
        &[
            "bash",
            "-c",
            &format!("exec 3<>/dev/tcp/{ip_a}/22 && head -c 7 <&3"),
        ],
    )?;
    assert_eq!(
        (code, out.as_str()),
        (0, "SSH-2.0"),
        "{b} reaches {a}'s sshd"
    );

    // A forward on 127.0.0.1, with key and password.
    let local = free_port()?;
    d.ok(&["forward", "add", &a, &format!("127.0.0.1:{local}:22")])?;
    let out = ssh_key(&[], &key, "127.0.0.1", local, "hostname");
    assert_eq!(
        stdout(&out),
        a,
        "key through 127.0.0.1:{local}: {}",
        explain(&out)
    );
    let out = ssh_password(&[], first_password, "127.0.0.1", local, "hostname");
    assert_eq!(
        stdout(&out),
        a,
        "password through the forward: {}",
        explain(&out)
    );

    // A forward on every address, used from another machine on the LAN.
    let octets = (200 + std::process::id() % 50, std::process::id() % 250);
    let lan = ClientNs::create(&d.id, octets)?;
    let wide = free_port()?;
    d.ok(&["forward", "add", &a, &format!("{wide}:22/tcp")])?;
    let out = ssh_key(&lan.prefix(), &key, &lan.host_addr, wide, "hostname");
    assert_eq!(
        stdout(&out),
        a,
        "from the LAN through {}:{wide}: {}",
        lan.host_addr,
        explain(&out)
    );
    // The same port on 127.0.0.1 is taken now: refused, naming the field.
    let out = d.berth(&["forward", "add", &b, &format!("127.0.0.1:{wide}:22")])?;
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("listen"),
        "{}",
        explain(&out)
    );

    // A host reboot flushes nftables; a restarted berthd puts the forwards back from its store.
    let mut d = d;
    d.kill9()?;
    let out = run(&["nft", "delete", "table", "inet", &d.net.table]);
    assert!(out.status.success(), "{}", explain(&out));
    d.spawn(&[])?;
    let out = ssh_key(&[], &key, "127.0.0.1", local, "hostname");
    assert_eq!(
        stdout(&out),
        a,
        "forward after berthd restart: {}",
        explain(&out)
    );

    // A new password works at once; the old one stops working.
    let answer = d.json(&["password", &a, "--generate"])?;
    let new_password = answer["password"].as_str().unwrap_or_default().to_owned();
    assert!(new_password.len() >= 16, "generated: {new_password:?}");
    let out = ssh_password(&[], &new_password, &ip_a, 22, "id -un");
    assert_eq!(stdout(&out), "root", "new password: {}", explain(&out));
    let out = ssh_password(&[], first_password, &ip_a, 22, "true");
    assert!(!out.status.success(), "the old password must fail");

    // b had keys only: a password turns password login on (sshd reloads its policy).
    let answer = d.json(&["password", &b, "--generate"])?;
    let b_password = answer["password"].as_str().unwrap_or_default().to_owned();
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut out = ssh_password(&[], &b_password, &ip_b, 22, "id -un");
    while stdout(&out) != "root" && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(500));
        out = ssh_password(&[], &b_password, &ip_b, 22, "id -un");
    }
    assert_eq!(stdout(&out), "root", "b's new password: {}", explain(&out));

    // After delete: forwards, address, netns and veth are gone.
    let table = nft_table(&d);
    assert!(table.contains(&format!("dport {local}")), "{table}");
    d.ok(&["delete", "--force", &a])?;
    let table = nft_table(&d);
    assert!(
        !table.contains(&format!("dport {local}")) && !table.contains(&format!("dport {wide}")),
        "{table}"
    );
    assert!(
        TcpStream::connect_timeout(
            &format!("127.0.0.1:{local}").parse()?,
            Duration::from_secs(2)
        )
        .is_err()
    );
    assert!(
        real::host_traces(&a).is_empty(),
        "{:?}",
        real::host_traces(&a)
    );
    let network: Value = d.json(&["network"])?;
    assert_eq!(network["instances"], 1, "{network}");
    assert_eq!(network["bridge"]["state"], "up");
    Ok(())
}

#[test]
fn a_wireguard_config_is_validated_installed_and_never_stored() -> Result<(), Error> {
    let d = RealDaemon::start(&[])?;
    d.ensure_image()?;
    let dir = tempfile::tempdir()?;
    let private = "YNqHbfBQKaGvzefSSuufuPmk5WOCzkjZbyL1XZGrNGQ=";
    let config = format!(
        "[Interface]\nPrivateKey = {private}\nAddress = 10.99.0.2/24\n\n[Peer]\n\
         PublicKey = xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=\nAllowedIPs = 10.99.0.0/24\n\
         Endpoint = 192.0.2.1:51820\n"
    );
    let good = dir.path().join("wg0.conf");
    std::fs::write(&good, &config)?;
    let bad = dir.path().join("bad.conf");
    std::fs::write(&bad, config.replace("192.0.2.1:51820", "192.0.2.1"))?;

    let name = d.name("wg");
    let refused = d.berth(&[
        "launch",
        "debian/12",
        &name,
        "--wireguard",
        bad.to_str().unwrap_or_default(),
    ])?;
    assert!(!refused.status.success());
    let message = String::from_utf8_lossy(&refused.stderr);
    assert!(
        message.contains("wireguard") && message.contains("line 8"),
        "{message}"
    );
    assert!(
        d.json(&["list"])?.as_array().is_some_and(Vec::is_empty),
        "nothing created"
    );

    d.ok(&[
        "launch",
        "debian/12",
        &name,
        "--no-start",
        "--wireguard",
        good.to_str().unwrap_or_default(),
    ])?;
    let root = d.pool_dir().join("instances").join(&name);
    let installed = root.join("etc/wireguard/wg0.conf");
    assert_eq!(std::fs::read_to_string(&installed)?, config);
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&installed)?.permissions().mode() & 0o777,
        0o600
    );
    assert_eq!(
        std::fs::read_link(
            root.join("etc/systemd/system/multi-user.target.wants/wg-quick@wg0.service")
        )?,
        Path::new("/lib/systemd/system/wg-quick@.service")
    );
    assert!(
        root.join("lib/systemd/system/wg-quick@.service").exists(),
        "wireguard-tools is in the image"
    );

    // The private key is nowhere but the guest: not in the store (DB + WAL), not in the log.
    for file in ["berth.db", "berth.db-wal", "berthd.log"] {
        let bytes = std::fs::read(d.data_dir.join(file)).unwrap_or_default();
        assert!(
            !String::from_utf8_lossy(&bytes).contains(private),
            "the private key leaked into {file}"
        );
    }
    Ok(())
}
