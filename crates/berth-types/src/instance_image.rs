//! What an instance is made from: an image of Berth's catalogue (`debian/12`) or one fetched
//! from an image server (`images:alpine/3.20`), as its record stores it and the API shows it.

use std::fmt;

use crate::{FieldError, ImageRef};

/// An image on an image server of `[[images.remotes]]`: `REMOTE:ALIAS`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ServerImage {
    /// The server's configured name, `images`.
    pub remote: String,
    /// The alias on it, `alpine/3.20`.
    pub alias: String,
}

impl ServerImage {
    /// Whether `name` is a well-formed server name: lower-case letters, digits and `-`, up to
    /// 32 characters, starting with a letter or digit.
    pub fn valid_remote(name: &str) -> bool {
        name.len() <= 32
            && name.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    }

    /// Whether `name` is one of Berth's own image namespaces (`debian:12`, `oci:APP`), which
    /// no image server may take.
    pub fn reserved(name: &str) -> bool {
        ImageRef::all().any(|image| image.distro.as_str() == name) || name == "oci"
    }

    /// Whether `alias` is a well-formed alias: letters, digits and `. _ - / :`, up to 128
    /// characters, not absolute, no `..`.
    pub fn valid_alias(alias: &str) -> bool {
        !alias.is_empty()
            && alias.len() <= 128
            && !alias.starts_with(['/', '.'])
            && !alias.contains("..")
            && alias
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._-/:".contains(&b))
    }
}

impl fmt::Display for ServerImage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.remote, self.alias)
    }
}

/// The image an instance was made from.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum InstanceImage {
    /// Built by Berth from a distribution's mirror.
    Catalog(ImageRef),
    /// Fetched from an image server.
    Server(ServerImage),
}

impl InstanceImage {
    /// Parses a catalogue image first (so `debian:12` stays one: those server names are
    /// reserved), else `REMOTE:ALIAS` with a well-formed name and alias. Whether the server is
    /// configured is the caller's question.
    pub fn parse_field(raw: &str, field: &str) -> Result<Self, FieldError> {
        match ImageRef::parse_field(raw, field) {
            Ok(image) => Ok(Self::Catalog(image)),
            Err(unknown) => match raw.split_once(':') {
                Some((remote, alias))
                    if ServerImage::valid_remote(remote)
                        && !ServerImage::reserved(remote)
                        && ServerImage::valid_alias(alias) =>
                {
                    Ok(Self::Server(ServerImage {
                        remote: remote.to_owned(),
                        alias: alias.to_owned(),
                    }))
                }
                _ => Err(unknown),
            },
        }
    }

    /// The catalogue image, when it is one.
    pub fn catalog(&self) -> Option<ImageRef> {
        match self {
            Self::Catalog(image) => Some(*image),
            Self::Server(_) => None,
        }
    }
}

impl From<ImageRef> for InstanceImage {
    fn from(image: ImageRef) -> Self {
        Self::Catalog(image)
    }
}

impl fmt::Display for InstanceImage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Catalog(image) => image.fmt(f),
            Self::Server(image) => image.fmt(f),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalogue_first_then_servers() {
        let parse = |raw: &str| InstanceImage::parse_field(raw, "image");
        assert_eq!(
            parse("debian:12").map(|i| i.to_string()).ok().as_deref(),
            Some("debian/12")
        );
        let server = parse("images:alpine/3.20").expect("a server image");
        assert_eq!(
            server,
            InstanceImage::Server(ServerImage {
                remote: "images".into(),
                alias: "alpine/3.20".into()
            })
        );
        assert_eq!(server.to_string(), "images:alpine/3.20");
        assert_eq!(server.catalog(), None);
        for bad in [
            "fedora/40",
            "Images:a",
            "images:../x",
            "images:",
            ":a",
            "debian:99",
        ] {
            let err = parse(bad).expect_err(bad);
            assert_eq!(err.field, "image", "{bad}");
        }
    }
}
