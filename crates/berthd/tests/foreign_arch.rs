//! A foreign-architecture guest: `berth launch debian/12 NAME --arch arm64` on an amd64 host
//! (or amd64 on arm64) boots the other architecture's systemd through qemu-user and the binfmt
//! handler berthd registers: systemd reaches running, `uname -m` names the guest's
//! architecture, sshd answers on the guest's address. The image is built once into the shared
//! test cache (slow under emulation: many minutes), then reused.

#[path = "common/real.rs"]
mod real;

use std::io::Read;
use std::time::{Duration, Instant};

use berth_types::Arch;
use real::{Error, RealDaemon};

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

fn foreign() -> Option<Arch> {
    match Arch::host()? {
        Arch::Amd64 => Some(Arch::Arm64),
        Arch::Arm64 => Some(Arch::Amd64),
    }
}

#[test]
fn a_foreign_architecture_guest_boots_through_qemu_user() -> Result<(), Error> {
    let (true, Some(arch)) = (is_root(), foreign()) else {
        eprintln!("skipped: needs root on amd64 or arm64");
        return Ok(());
    };
    if !std::path::Path::new(&format!("/usr/bin/qemu-{}-static", arch.machine())).exists() {
        return Err("qemu-user-static is not installed (scripts/setup.sh installs it)".into());
    }
    let d = RealDaemon::start(&[])?;
    let started = Instant::now();
    d.ok(&["image", "build", "debian/12", "--arch", arch.as_str()])?;
    eprintln!(
        "MEASURE debian/12 {} image ready in {:.1}s",
        arch.as_str(),
        started.elapsed().as_secs_f64()
    );
    let name = d.name("arm");
    let launched = Instant::now();
    d.ok(&[
        "launch",
        "debian/12",
        &name,
        "--arch",
        arch.as_str(),
        "--memory",
        "512MiB",
    ])?;
    eprintln!(
        "MEASURE launched in {:.1}s",
        launched.elapsed().as_secs_f64()
    );

    let (code, machine) = d.exec(&name, &["uname", "-m"])?;
    assert_eq!((code, machine.trim()), (0, arch.machine()));

    let deadline = Instant::now() + Duration::from_secs(600);
    let mut state = String::new();
    while Instant::now() < deadline {
        let (_, out) = d.exec(&name, &["systemctl", "is-system-running", "--wait"])?;
        state = out.trim().to_owned();
        if state == "running" || state == "degraded" {
            break;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    let (_, failed) = d.exec(&name, &["systemctl", "--failed", "--no-legend"])?;
    eprintln!(
        "booted in {:.1}s: {state}; failed units: {failed:?}",
        launched.elapsed().as_secs_f64()
    );
    if state != "running" {
        let (_, journal) = d.exec(
            &name,
            &[
                "journalctl",
                "-b",
                "--no-pager",
                "-p",
                "warning",
                "-n",
                "60",
            ],
        )?;
        eprintln!("journal:\n{journal}");
    }
    assert_eq!(state, "running", "failed units: {failed}");

    let info = d.json(&["info", &name])?;
    let address = info["network"]["ipv4"]
        .as_str()
        .ok_or("no ipv4")?
        .to_owned();
    let banner = ssh_banner(&address)?;
    assert!(banner.starts_with("SSH-2.0-OpenSSH"), "{banner:?}");

    d.ok(&["delete", "--force", &name])?;
    Ok(())
}

/// The first line sshd sends on `address`:22.
fn ssh_banner(address: &str) -> Result<String, Error> {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let attempt = std::net::TcpStream::connect_timeout(
            &format!("{address}:22").parse()?,
            Duration::from_secs(5),
        )
        .and_then(|mut stream| {
            stream.set_read_timeout(Some(Duration::from_secs(20)))?;
            let mut buffer = [0u8; 64];
            let n = stream.read(&mut buffer)?;
            Ok(String::from_utf8_lossy(&buffer[..n]).into_owned())
        });
        match attempt {
            Ok(banner) if !banner.is_empty() => return Ok(banner),
            _ if Instant::now() > deadline => {
                return Err(format!("no ssh banner: {attempt:?}").into());
            }
            _ => std::thread::sleep(Duration::from_secs(1)),
        }
    }
}
