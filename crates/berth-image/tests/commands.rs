//! Bootstrap command lines for every distribution and architecture (Ubuntu's archive is not
//! reachable from this test host, so its command lines are what is tested here; the signed
//! repository test proves the verification path), and progress parsing.

use std::ffi::OsString;
use std::path::Path;

use berth_image::bootstrap::Tool;
use berth_image::catalog::{Mirrors, Source};
use berth_image::progress::step_of;
use berth_image::sources::HostSources;
use berth_types::{Arch, ImageRef};

fn source(raw: &str, arch: Arch) -> Source {
    let image = ImageRef::parse(raw).expect("known");
    Source::resolve_with(image, arch, &Mirrors::default(), &HostSources::default())
}

const KEYS: &str = "/c/.b/rootfs.keyring/archive.gpg";

fn strings(args: Vec<OsString>) -> Vec<String> {
    args.into_iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect()
}

#[test]
fn mmdebstrap_command_line() {
    let tool = Tool::Mmdebstrap("/usr/bin/mmdebstrap".into());
    let args = strings(tool.args(
        &source("debian/12", Arch::Amd64),
        Path::new("/c/.b/rootfs"),
        Path::new(KEYS),
    ));
    assert_eq!(args[0], "/usr/bin/mmdebstrap");
    assert!(args.contains(&"--variant=minbase".to_owned()));
    assert!(args.contains(&"--arch=amd64".to_owned()));
    // apt trusts the keyring's directory alone, not the host's legacy trusted.gpg.
    assert!(args.contains(&"--keyring=/c/.b/rootfs.keyring".to_owned()));
    assert!(
        args.iter()
            .any(|a| a.starts_with("--aptopt=Dir::Etc::Trusted "))
    );
    assert!(!args.iter().any(|a| a.contains("Check-Valid-Until")));
    let include = args
        .iter()
        .find(|a| a.starts_with("--include="))
        .expect("include");
    for package in [
        "systemd-sysv",
        "openssh-server",
        "wireguard-tools",
        "libpam-systemd",
    ] {
        assert!(include.split([',', '=']).any(|p| p == package), "{package}");
    }
    let suite = args.iter().position(|a| a == "bookworm").expect("suite");
    assert_eq!(args[suite + 1], "/c/.b/rootfs");
    assert_eq!(
        args[suite + 2],
        "deb http://deb.debian.org/debian bookworm main"
    );
    assert_eq!(
        args[suite + 4],
        "deb http://deb.debian.org/debian-security bookworm-security main"
    );
}

#[test]
fn ubuntu_arm64_builds_from_ports() {
    let tool = Tool::Mmdebstrap("mmdebstrap".into());
    let args = strings(tool.args(
        &source("ubuntu/24.04", Arch::Arm64),
        Path::new("/t"),
        Path::new(KEYS),
    ));
    assert!(args.contains(&"--arch=arm64".to_owned()));
    assert!(args.contains(&"--keyring=/c/.b/rootfs.keyring".to_owned()));
    assert!(
        args.contains(&"deb http://ports.ubuntu.com/ubuntu-ports noble main universe".to_owned())
    );
    assert!(!args.iter().any(|a| a.contains("archive.ubuntu.com")));

    let tool = Tool::Debootstrap("/usr/sbin/debootstrap".into());
    let args = strings(tool.args(
        &source("ubuntu/22.04", Arch::Arm64),
        Path::new("/t"),
        Path::new(KEYS),
    ));
    assert_eq!(
        args.last().map(String::as_str),
        Some("http://ports.ubuntu.com/ubuntu-ports")
    );
    assert!(args.contains(&"--components=main,universe".to_owned()));
    assert!(args.contains(&"jammy".to_owned()));
}

#[test]
fn ubuntu_amd64_builds_from_the_archive() {
    let tool = Tool::Debootstrap("debootstrap".into());
    let args = strings(tool.args(
        &source("ubuntu/20.04", Arch::Amd64),
        Path::new("/t"),
        Path::new(KEYS),
    ));
    assert_eq!(
        args.last().map(String::as_str),
        Some("http://archive.ubuntu.com/ubuntu")
    );
    assert!(args.contains(&"--variant=minbase".to_owned()));
}

#[test]
fn steps_come_from_info_lines() {
    assert_eq!(
        step_of("I: running apt-get update...").as_deref(),
        Some("running apt-get update")
    );
    assert_eq!(
        step_of("I: Retrieving InRelease").as_deref(),
        Some("retrieving InRelease")
    );
    assert_eq!(step_of("I: success in 27.69 seconds"), None);
    assert_eq!(
        step_of("I: running --setup-hook directly: /usr/share/mmdebstrap/hooks/x/setup00.sh /t"),
        None
    );
    assert_eq!(
        step_of("Get:1 http://deb.debian.org bookworm InRelease"),
        None
    );
}

#[test]
fn every_release_names_its_suite_and_security_archive() {
    let tool = Tool::Mmdebstrap("mmdebstrap".into());
    for (raw, suite) in [
        ("debian/11", "bullseye"),
        ("debian/13", "trixie"),
        ("ubuntu/20.04", "focal"),
    ] {
        let args = strings(tool.args(&source(raw, Arch::Amd64), Path::new("/t"), Path::new(KEYS)));
        assert!(args.contains(&suite.to_owned()), "{raw}");
        assert!(
            args.iter()
                .any(|a| a.starts_with("deb ") && a.contains(&format!(" {suite}-security "))),
            "{raw} has security updates"
        );
    }
}

#[test]
fn bootstrappers_run_in_their_own_namespaces() {
    let flags = berth_image::bootstrap::UNSHARE;
    for flag in ["--mount", "--pid", "--fork", "--kill-child"] {
        assert!(flags.contains(&flag), "{flag}");
    }
    assert_eq!(flags.last(), Some(&"--"));
}
