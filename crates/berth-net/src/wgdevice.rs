//! Userspace WireGuard for hosts without the kernel module: boringtun drives a TUN device in
//! a detached process of its own (`berthd uplink-wg IFNAME`), so the tunnel outlives a daemon
//! restart like the guests do. The daemon starts it, configures it over its UAPI socket, gives
//! the interface its addresses and routes over netlink, and stops it by its pid file.

use std::ffi::OsString;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use boringtun::device::{DeviceConfig, DeviceHandle};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use crate::nl::{Netlink, NlError};
use crate::wguapi::{UAPI_DIR, UapiConfig, UapiError};

#[derive(Debug, thiserror::Error)]
pub enum WgDeviceError {
    #[error("starting userspace WireGuard on {ifname}: {message}")]
    Device { ifname: String, message: String },
    #[error("starting the WireGuard helper process")]
    Spawn(#[source] std::io::Error),
    #[error("the WireGuard helper for {0} did not come up within 10 s")]
    NoSocket(String),
    #[error(transparent)]
    Uapi(#[from] UapiError),
    #[error("interface {ifname}")]
    Netlink {
        ifname: String,
        #[source]
        source: NlError,
    },
}

/// Runs the device until the process is killed (the body of `berthd uplink-wg`).
pub fn run_userspace_device(ifname: &str) -> Result<(), WgDeviceError> {
    let config = DeviceConfig {
        n_threads: 2,
        use_connected_socket: true,
        use_multi_queue: false,
        uapi_fd: -1,
    };
    let mut handle = DeviceHandle::new(ifname, config).map_err(|e| WgDeviceError::Device {
        ifname: ifname.to_owned(),
        message: format!("{e:?}"),
    })?;
    handle.wait();
    Ok(())
}

fn socket_path(ifname: &str) -> PathBuf {
    Path::new(UAPI_DIR).join(format!("{ifname}.sock"))
}

/// Starts `helper` (argv of a program that ends in [`run_userspace_device`], e.g.
/// `berthd uplink-wg`) for `ifname` in its own session, records its pid in `pid_file`, and
/// waits until its control socket answers.
pub fn spawn_userspace_device(
    helper: &[OsString],
    ifname: &str,
    pid_file: &Path,
) -> Result<u32, WgDeviceError> {
    let (program, args) = helper
        .split_first()
        .ok_or_else(|| WgDeviceError::Spawn(std::io::Error::other("no helper command")))?;
    let mut command = Command::new(program);
    command
        .args(args)
        .arg(ifname)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    // SAFETY: setsid is async-signal-safe and touches nothing of the parent's.
    unsafe {
        std::os::unix::process::CommandExt::pre_exec(&mut command, || {
            nix::unistd::setsid()
                .map(drop)
                .map_err(std::io::Error::from)
        });
    }
    let child = command.spawn().map_err(WgDeviceError::Spawn)?;
    let pid = child.id();
    if let Some(dir) = pid_file.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    let _ = std::fs::write(pid_file, pid.to_string());
    // Reap it in the background if it dies early; it is otherwise left to run.
    std::thread::spawn(move || {
        let mut child = child;
        let _ = child.wait();
    });
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if std::os::unix::net::UnixStream::connect(socket_path(ifname)).is_ok() {
            return Ok(pid);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    stop_userspace_device(ifname, pid_file);
    Err(WgDeviceError::NoSocket(ifname.to_owned()))
}

/// Whether the helper recorded in `pid_file` still runs.
pub fn userspace_device_running(pid_file: &Path) -> bool {
    read_pid(pid_file).is_some_and(|pid| kill(pid, None).is_ok())
}

fn read_pid(pid_file: &Path) -> Option<Pid> {
    std::fs::read_to_string(pid_file)
        .ok()?
        .trim()
        .parse::<i32>()
        .ok()
        .filter(|p| *p > 1)
        .map(Pid::from_raw)
}

/// Stops the helper and removes its socket and pid file; nothing running is fine.
pub fn stop_userspace_device(ifname: &str, pid_file: &Path) {
    if let Some(pid) = read_pid(pid_file) {
        let _ = kill(pid, Signal::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(3);
        while kill(pid, None).is_ok() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = kill(pid, Signal::SIGKILL);
    }
    let _ = std::fs::remove_file(pid_file);
    let _ = std::fs::remove_file(socket_path(ifname));
}

/// Configures the device's keys and peers, then its addresses and a route per allowed IP,
/// and brings it up.
pub fn configure_device(
    ifname: &str,
    config: &UapiConfig,
    addresses: &[(IpAddr, u8)],
) -> Result<(), WgDeviceError> {
    config.apply(ifname)?;
    let nl_err = |source| WgDeviceError::Netlink {
        ifname: ifname.to_owned(),
        source,
    };
    let mut nl = Netlink::open().map_err(nl_err)?;
    let index = nl
        .link_index(ifname)
        .map_err(nl_err)?
        .ok_or_else(|| WgDeviceError::Device {
            ifname: ifname.to_owned(),
            message: "the interface is gone".into(),
        })?;
    for (addr, prefix) in addresses {
        nl.add_address(index, *addr, *prefix).map_err(nl_err)?;
    }
    nl.set_up(index).map_err(nl_err)?;
    for peer in &config.peers {
        for cidr in &peer.allowed_ips {
            if let Some((addr, prefix)) = parse_cidr(cidr) {
                nl.add_link_route(index, addr, prefix).map_err(nl_err)?;
            }
        }
    }
    Ok(())
}

/// `fd99::/64` → (`fd99::`, 64); a bare address is a host route.
pub fn parse_cidr(raw: &str) -> Option<(IpAddr, u8)> {
    let (addr, prefix) = match raw.split_once('/') {
        Some((a, p)) => (a.parse::<IpAddr>().ok()?, p.parse::<u8>().ok()?),
        None => {
            let addr = raw.parse::<IpAddr>().ok()?;
            (addr, if addr.is_ipv4() { 32 } else { 128 })
        }
    };
    let max = if addr.is_ipv4() { 32 } else { 128 };
    (prefix <= max).then_some((addr, prefix))
}

/// A new key pair, base64 like `wg genkey | wg pubkey`: (private, public).
pub fn generate_keypair() -> Result<(String, String), std::io::Error> {
    let mut secret = [0u8; 32];
    std::io::Read::read_exact(&mut std::fs::File::open("/dev/urandom")?, &mut secret)?;
    let private = boringtun::x25519::StaticSecret::from(secret);
    let public = boringtun::x25519::PublicKey::from(&private);
    let b64 = |bytes: &[u8]| {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.encode(bytes)
    };
    Ok((b64(&private.to_bytes()), b64(public.as_bytes())))
}

/// The public key of a base64 private key, or `None` when it is not one.
pub fn public_key(private_b64: &str) -> Option<String> {
    use base64::Engine as _;
    let engine = base64::engine::general_purpose::STANDARD;
    let bytes: [u8; 32] = engine.decode(private_b64.trim()).ok()?.try_into().ok()?;
    let private = boringtun::x25519::StaticSecret::from(bytes);
    Some(engine.encode(boringtun::x25519::PublicKey::from(&private).as_bytes()))
}
