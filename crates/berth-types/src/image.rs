//! Image references: `debian/12`, `ubuntu/24.04`, `debian/sid`, and the aliases `debian:bookworm`,
//! `ubuntu:22.04`, `debian/unstable`; each release's support channel.

use std::fmt;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::FieldError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Distro {
    Debian,
    Ubuntu,
}

impl Distro {
    /// As in an image reference (`debian/12`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Debian => "debian",
            Self::Ubuntu => "ubuntu",
        }
    }
}

/// CPU architecture in Debian's spelling.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Arch {
    Amd64,
    Arm64,
}

impl Arch {
    /// The architecture of the host this code runs on.
    pub fn host() -> Option<Self> {
        match std::env::consts::ARCH {
            "x86_64" => Some(Self::Amd64),
            "aarch64" => Some(Self::Arm64),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Amd64 => "amd64",
            Self::Arm64 => "arm64",
        }
    }

    /// The kernel's name for it (`uname -m`): `x86_64`, `aarch64`.
    pub fn machine(self) -> &'static str {
        match self {
            Self::Amd64 => "x86_64",
            Self::Arm64 => "aarch64",
        }
    }

    /// Parses `amd64` or `arm64` (or the kernel's `x86_64`, `aarch64`).
    pub fn parse_field(raw: &str, field: &str) -> Result<Self, FieldError> {
        match raw {
            "amd64" | "x86_64" => Ok(Self::Amd64),
            "arm64" | "aarch64" => Ok(Self::Arm64),
            _ => Err(FieldError::new(
                field,
                format!("unknown architecture {raw:?}; use amd64 or arm64"),
            )),
        }
    }
}

/// How a release is maintained: what a user picking one needs to know.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Channel {
    /// A long-term-support release: security fixes for years, no feature changes.
    Lts,
    /// The distribution's current stable release.
    Current,
    /// A moving target (`testing`, `sid`): new packages every day, no stable release behind it.
    Rolling,
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Lts => "lts",
            Self::Current => "current",
            Self::Rolling => "rolling",
        }
    }
}

/// One known release: its canonical version, its code name (the archive suite it is built
/// from), other names it is known by, and its channel.
struct Release {
    distro: Distro,
    version: &'static str,
    codename: &'static str,
    aliases: &'static [&'static str],
    channel: Channel,
}

const RELEASES: &[Release] = &[
    Release {
        distro: Distro::Debian,
        version: "11",
        codename: "bullseye",
        aliases: &[],
        channel: Channel::Lts,
    },
    Release {
        distro: Distro::Debian,
        version: "12",
        codename: "bookworm",
        aliases: &[],
        channel: Channel::Lts,
    },
    Release {
        distro: Distro::Debian,
        version: "13",
        codename: "trixie",
        aliases: &[],
        channel: Channel::Current,
    },
    Release {
        distro: Distro::Debian,
        version: "testing",
        codename: "testing",
        aliases: &[],
        channel: Channel::Rolling,
    },
    Release {
        distro: Distro::Debian,
        version: "sid",
        codename: "sid",
        aliases: &["unstable"],
        channel: Channel::Rolling,
    },
    Release {
        distro: Distro::Ubuntu,
        version: "20.04",
        codename: "focal",
        aliases: &[],
        channel: Channel::Lts,
    },
    Release {
        distro: Distro::Ubuntu,
        version: "22.04",
        codename: "jammy",
        aliases: &[],
        channel: Channel::Lts,
    },
    Release {
        distro: Distro::Ubuntu,
        version: "24.04",
        codename: "noble",
        aliases: &[],
        channel: Channel::Lts,
    },
];

/// A known image, in canonical form (`debian/12`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ImageRef {
    pub distro: Distro,
    pub version: &'static str,
    pub codename: &'static str,
    pub channel: Channel,
}

impl ImageRef {
    /// Parses `debian/12`, `debian:bookworm`, `debian:12`, `ubuntu/22.04`, `ubuntu:jammy`,
    /// `debian/sid`, `debian/unstable`.
    pub fn parse_field(raw: &str, field: &str) -> Result<Self, FieldError> {
        let unknown = || {
            let known: Vec<String> = Self::all().map(|i| i.to_string()).collect();
            FieldError::new(
                field,
                format!("unknown image {raw:?}; known images: {}", known.join(", ")),
            )
        };
        let (distro, release) = raw.split_once(['/', ':']).ok_or_else(unknown)?;
        let distro = match distro {
            "debian" => Distro::Debian,
            "ubuntu" => Distro::Ubuntu,
            _ => return Err(unknown()),
        };
        RELEASES
            .iter()
            .find(|r| {
                r.distro == distro
                    && (r.version == release
                        || r.codename == release
                        || r.aliases.contains(&release))
            })
            .map(Self::of)
            .ok_or_else(unknown)
    }

    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        Self::parse_field(raw, "image")
    }

    pub fn all() -> impl Iterator<Item = Self> {
        RELEASES.iter().map(Self::of)
    }

    fn of(release: &Release) -> Self {
        Self {
            distro: release.distro,
            version: release.version,
            codename: release.codename,
            channel: release.channel,
        }
    }

    /// Whether the release moves every day (its archive has no `-updates` suite and, for
    /// `sid`, no `-security` one).
    pub fn is_rolling(&self) -> bool {
        self.channel == Channel::Rolling
    }

    /// A file-name-safe key for this image on one architecture: `debian-12-amd64`.
    pub fn cache_key(&self, arch: Arch) -> String {
        format!("{}-{}-{}", self.distro_str(), self.version, arch.as_str())
    }

    pub fn distro_str(&self) -> &'static str {
        match self.distro {
            Distro::Debian => "debian",
            Distro::Ubuntu => "ubuntu",
        }
    }
}

impl fmt::Display for ImageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.distro_str(), self.version)
    }
}

impl Serialize for ImageRef {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ImageRef {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        Self::parse(&raw).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_canonical_and_aliases() {
        for (raw, want) in [
            ("debian/12", "debian/12"),
            ("debian:bookworm", "debian/12"),
            ("debian:12", "debian/12"),
            ("ubuntu:22.04", "ubuntu/22.04"),
            ("ubuntu/noble", "ubuntu/24.04"),
            ("debian/11", "debian/11"),
            ("debian/testing", "debian/testing"),
            ("debian:sid", "debian/sid"),
            ("debian/unstable", "debian/sid"),
        ] {
            assert_eq!(
                ImageRef::parse(raw).map(|i| i.to_string()).ok().as_deref(),
                Some(want),
                "{raw}"
            );
        }
    }

    #[test]
    fn unknown_images_name_the_field_and_list_known_ones() {
        let err = ImageRef::parse("fedora/40").expect_err("fedora is unknown");
        assert_eq!(err.field, "image");
        assert!(err.message.contains("debian/12"));
        assert!(ImageRef::parse("debian/99").is_err());
        assert!(ImageRef::parse("debian").is_err());
    }

    #[test]
    fn channels() {
        let channel = |raw: &str| ImageRef::parse(raw).map(|i| i.channel).ok();
        assert_eq!(channel("ubuntu/24.04"), Some(Channel::Lts));
        assert_eq!(channel("debian/13"), Some(Channel::Current));
        assert_eq!(channel("debian/sid"), Some(Channel::Rolling));
        assert_eq!(channel("debian/testing"), Some(Channel::Rolling));
        assert!(ImageRef::parse("ubuntu/unstable").is_err());
    }

    #[test]
    fn arches_parse_in_both_spellings() {
        assert_eq!(Arch::parse_field("aarch64", "arch").ok(), Some(Arch::Arm64));
        assert_eq!(Arch::parse_field("amd64", "arch").ok(), Some(Arch::Amd64));
        let err = Arch::parse_field("riscv64", "arch").expect_err("unknown");
        assert_eq!(err.field, "arch");
        assert_eq!(Arch::Arm64.machine(), "aarch64");
    }

    #[test]
    fn cache_key_names_arch() {
        let image = ImageRef::parse("debian/12").expect("known");
        assert_eq!(image.cache_key(Arch::Amd64), "debian-12-amd64");
    }
}
