//! The image catalog: for each image and architecture, the suite, mirrors, components, keyring
//! and packages a build uses.

use std::path::PathBuf;

use berth_types::{Arch, Distro, ImageRef};

use crate::keyring::{self, Keyring};
use crate::sources::HostSources;

/// Used when the host's apt sources name no Debian mirror.
pub const DEFAULT_DEBIAN_MIRROR: &str = "http://deb.debian.org/debian";
pub const DEFAULT_UBUNTU_MIRROR: &str = "http://archive.ubuntu.com/ubuntu";
/// Ubuntu for architectures other than amd64 (and i386) lives on the Ports mirror.
pub const DEFAULT_UBUNTU_PORTS_MIRROR: &str = "http://ports.ubuntu.com/ubuntu-ports";

/// What every image gets on top of `minbase`: an init, sshd, networking tools and a few
/// conveniences a VPS user expects.
pub const PACKAGES: &[&str] = &[
    "systemd",
    "systemd-sysv",
    "dbus",
    "libpam-systemd",
    "openssh-server",
    "openssh-sftp-server",
    "iproute2",
    "iputils-ping",
    "ca-certificates",
    "curl",
    "wireguard-tools",
    "procps",
    "less",
    "nano",
    "netbase",
    "sudo",
    "tzdata",
];

/// Where images come from and what vouches for them, from the configuration; `None` means the
/// default.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Mirrors {
    /// The keyring that verifies Debian archives. Default: the one Berth carries.
    pub debian_keyring: Option<PathBuf>,
    /// The keyring that verifies Ubuntu archives. Default: the one Berth carries.
    pub ubuntu_keyring: Option<PathBuf>,
    /// Accept archive metadata past its `Valid-Until` date (a snapshot or frozen mirror).
    /// Signatures are checked all the same.
    pub ignore_valid_until: bool,
    /// Default: the Debian mirror the host's apt sources use, else [`DEFAULT_DEBIAN_MIRROR`].
    pub debian: Option<String>,
    /// Ubuntu on amd64. Default: [`DEFAULT_UBUNTU_MIRROR`].
    pub ubuntu: Option<String>,
    /// Ubuntu on arm64. Default: [`DEFAULT_UBUNTU_PORTS_MIRROR`].
    pub ubuntu_ports: Option<String>,
}

/// Where one image's packages come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    pub image: ImageRef,
    pub arch: Arch,
    /// The release suite (the code name, `bookworm`).
    pub suite: &'static str,
    /// The archive for the release and its `-updates` suite.
    pub mirror: String,
    /// The archive for the `-security` suite; `None` leaves security updates out.
    pub security_mirror: Option<String>,
    /// Whether the release has a `-updates` suite (`sid` has neither it nor `-security`).
    pub updates: bool,
    pub components: &'static [&'static str],
    /// The keyring that verifies the archive.
    pub keyring: Keyring,
    /// See [`Mirrors::ignore_valid_until`].
    pub ignore_valid_until: bool,
}

impl Source {
    /// The source of `image` on `arch`, reading the host's apt sources for the Debian default.
    pub fn resolve(image: ImageRef, arch: Arch, mirrors: &Mirrors) -> Self {
        let host = match (image.distro, &mirrors.debian) {
            (Distro::Debian, None) => HostSources::read(),
            _ => HostSources::default(),
        };
        Self::resolve_with(image, arch, mirrors, &host)
    }

    /// Like [`Source::resolve`] with the host's sources given (tests).
    pub fn resolve_with(
        image: ImageRef,
        arch: Arch,
        mirrors: &Mirrors,
        host: &HostSources,
    ) -> Self {
        let configured = |m: &Option<String>| {
            m.as_deref()
                .map(|m| m.trim().trim_end_matches('/'))
                .filter(|m| !m.is_empty())
                .map(str::to_owned)
        };
        match image.distro {
            Distro::Debian => {
                let (mirror, security_mirror) = match configured(&mirrors.debian) {
                    Some(mirror) => {
                        let security = security_beside(&mirror);
                        (mirror, security)
                    }
                    None => {
                        let mirror = host
                            .debian_mirror()
                            .unwrap_or_else(|| DEFAULT_DEBIAN_MIRROR.to_owned());
                        let security = host
                            .debian_security_mirror()
                            .or_else(|| security_beside(&mirror));
                        (mirror, security)
                    }
                };
                // sid has no -updates and no -security; testing has both.
                let sid = image.codename == "sid";
                Self {
                    image,
                    arch,
                    suite: image.codename,
                    mirror,
                    security_mirror: security_mirror.filter(|_| !sid),
                    updates: !sid,
                    components: &["main"],
                    keyring: mirrors
                        .debian_keyring
                        .clone()
                        .map_or(Keyring::Builtin(keyring::DEBIAN.name), Keyring::File),
                    ignore_valid_until: mirrors.ignore_valid_until,
                }
            }
            Distro::Ubuntu => {
                let mirror = match arch {
                    Arch::Amd64 => configured(&mirrors.ubuntu)
                        .unwrap_or_else(|| DEFAULT_UBUNTU_MIRROR.to_owned()),
                    Arch::Arm64 => configured(&mirrors.ubuntu_ports)
                        .unwrap_or_else(|| DEFAULT_UBUNTU_PORTS_MIRROR.to_owned()),
                };
                Self {
                    image,
                    arch,
                    suite: image.codename,
                    security_mirror: Some(mirror.clone()),
                    updates: true,
                    mirror,
                    components: &["main", "universe"],
                    keyring: mirrors
                        .ubuntu_keyring
                        .clone()
                        .map_or(Keyring::Builtin(keyring::UBUNTU.name), Keyring::File),
                    ignore_valid_until: mirrors.ignore_valid_until,
                }
            }
        }
    }

    /// The one-line apt sources the image is built from and keeps in `/etc/apt/sources.list`:
    /// the release, `-updates` and `-security`.
    pub fn apt_lines(&self) -> Vec<String> {
        let components = self.components.join(" ");
        let mut lines = vec![format!("deb {} {} {components}", self.mirror, self.suite)];
        if self.updates {
            lines.push(format!(
                "deb {} {}-updates {components}",
                self.mirror, self.suite
            ));
        }
        if let Some(security) = &self.security_mirror {
            lines.push(format!(
                "deb {security} {}-security {components}",
                self.suite
            ));
        }
        lines
    }

    /// The packages installed on top of `minbase`.
    pub fn packages(&self) -> &'static [&'static str] {
        PACKAGES
    }
}

/// Debian's security archive next to a mirror that follows the usual layout
/// (`…/debian` → `…/debian-security`); `None` for other layouts.
fn security_beside(mirror: &str) -> Option<String> {
    mirror
        .strip_suffix("/debian")
        .map(|base| format!("{base}/debian-security"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sources::parse_one_line;

    fn image(raw: &str) -> ImageRef {
        ImageRef::parse(raw).expect("known image")
    }

    #[test]
    fn debian_follows_the_host_mirror() {
        let host = HostSources {
            sources: parse_one_line(
                "deb http://ftp.fr.debian.org/debian bookworm main\n\
                 deb http://security.debian.org/debian-security bookworm-security main\n",
            ),
        };
        let source =
            Source::resolve_with(image("debian/12"), Arch::Amd64, &Mirrors::default(), &host);
        assert_eq!(source.mirror, "http://ftp.fr.debian.org/debian");
        assert_eq!(source.suite, "bookworm");
        assert_eq!(
            source.apt_lines(),
            [
                "deb http://ftp.fr.debian.org/debian bookworm main",
                "deb http://ftp.fr.debian.org/debian bookworm-updates main",
                "deb http://security.debian.org/debian-security bookworm-security main",
            ]
        );
    }

    #[test]
    fn debian_falls_back_to_deb_debian_org() {
        let source = Source::resolve_with(
            image("debian/11"),
            Arch::Arm64,
            &Mirrors::default(),
            &HostSources::default(),
        );
        assert_eq!(source.mirror, DEFAULT_DEBIAN_MIRROR);
        assert_eq!(
            source.security_mirror.as_deref(),
            Some("http://deb.debian.org/debian-security")
        );
        assert_eq!(source.suite, "bullseye");
        assert_eq!(
            source.keyring,
            Keyring::Builtin("debian-archive-keyring.gpg")
        );
    }

    #[test]
    fn configured_debian_mirror_wins_over_the_host() {
        let host = HostSources {
            sources: parse_one_line("deb http://ftp.fr.debian.org/debian bookworm main\n"),
        };
        let mirrors = Mirrors {
            debian: Some("http://apt-cache:3142/debian/".into()),
            ..Mirrors::default()
        };
        let source = Source::resolve_with(image("debian:trixie"), Arch::Amd64, &mirrors, &host);
        assert_eq!(source.mirror, "http://apt-cache:3142/debian");
        assert_eq!(
            source.security_mirror.as_deref(),
            Some("http://apt-cache:3142/debian-security")
        );
        let odd = Mirrors {
            debian: Some("http://mirror.example/pub/deb".into()),
            ..Mirrors::default()
        };
        let source = Source::resolve_with(image("debian/13"), Arch::Amd64, &odd, &host);
        assert_eq!(source.security_mirror, None);
        assert_eq!(source.apt_lines().len(), 2);
    }

    #[test]
    fn ubuntu_amd64_uses_the_archive_and_arm64_the_ports_mirror() {
        let host = HostSources::default();
        let amd = Source::resolve_with(
            image("ubuntu/24.04"),
            Arch::Amd64,
            &Mirrors::default(),
            &host,
        );
        assert_eq!(amd.mirror, "http://archive.ubuntu.com/ubuntu");
        assert_eq!(amd.components, ["main", "universe"]);
        let arm = Source::resolve_with(
            image("ubuntu/22.04"),
            Arch::Arm64,
            &Mirrors::default(),
            &host,
        );
        assert_eq!(arm.mirror, "http://ports.ubuntu.com/ubuntu-ports");
        assert_eq!(
            arm.apt_lines(),
            [
                "deb http://ports.ubuntu.com/ubuntu-ports jammy main universe",
                "deb http://ports.ubuntu.com/ubuntu-ports jammy-updates main universe",
                "deb http://ports.ubuntu.com/ubuntu-ports jammy-security main universe",
            ]
        );
        assert_eq!(arm.keyring, Keyring::Builtin("ubuntu-archive-keyring.gpg"));
        let configured = Mirrors {
            ubuntu_keyring: Some("/etc/berth/ubuntu.gpg".into()),
            ..Mirrors::default()
        };
        let arm = Source::resolve_with(image("ubuntu/22.04"), Arch::Arm64, &configured, &host);
        assert_eq!(arm.keyring, Keyring::File("/etc/berth/ubuntu.gpg".into()));
    }

    #[test]
    fn ubuntu_mirrors_are_configurable_per_arch() {
        let mirrors = Mirrors {
            ubuntu: Some("http://u.example/ubuntu".into()),
            ubuntu_ports: Some("http://p.example/ubuntu-ports".into()),
            ..Mirrors::default()
        };
        let host = HostSources::default();
        let amd = Source::resolve_with(image("ubuntu/20.04"), Arch::Amd64, &mirrors, &host);
        let arm = Source::resolve_with(image("ubuntu/20.04"), Arch::Arm64, &mirrors, &host);
        assert_eq!(amd.mirror, "http://u.example/ubuntu");
        assert_eq!(arm.mirror, "http://p.example/ubuntu-ports");
        assert_eq!(arm.suite, "focal");
    }

    #[test]
    fn rolling_debian_follows_the_suite_names() {
        let host = HostSources::default();
        let sid = Source::resolve_with(
            image("debian/unstable"),
            Arch::Amd64,
            &Mirrors::default(),
            &host,
        );
        assert_eq!(
            sid.apt_lines(),
            ["deb http://deb.debian.org/debian sid main"]
        );
        let testing = Source::resolve_with(
            image("debian/testing"),
            Arch::Arm64,
            &Mirrors::default(),
            &host,
        );
        assert_eq!(
            testing.apt_lines(),
            [
                "deb http://deb.debian.org/debian testing main",
                "deb http://deb.debian.org/debian testing-updates main",
                "deb http://deb.debian.org/debian-security testing-security main",
            ]
        );
    }

    #[test]
    fn every_image_resolves() {
        for image in ImageRef::all() {
            for arch in [Arch::Amd64, Arch::Arm64] {
                let source =
                    Source::resolve_with(image, arch, &Mirrors::default(), &HostSources::default());
                assert_eq!(source.suite, image.codename);
                assert!(source.packages().contains(&"openssh-server"));
            }
        }
    }
}
