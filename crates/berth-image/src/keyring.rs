//! The archive signing keys Berth carries (Debian's and Ubuntu's, as data in `keys/`, their
//! source named in `keys/SOURCES.md`), checked by fingerprint before use, or a keyring the
//! configuration names. apt verifies each archive's `InRelease` against the keyring given to
//! the bootstrapper; an archive it cannot verify is refused.

use std::path::{Path, PathBuf};

use sha1::{Digest, Sha1};

#[derive(Debug, thiserror::Error)]
pub enum KeyringError {
    #[error("the keyring {name} is not an OpenPGP keyring: {why}")]
    Malformed { name: String, why: &'static str },
    #[error(
        "the built-in keyring {name} holds keys {found:?}, not the expected {expected:?}; \
         it was changed: restore it from keys/SOURCES.md"
    )]
    Fingerprints {
        name: &'static str,
        found: Vec<String>,
        expected: &'static [&'static str],
    },
    #[error("the configured keyring {} cannot be read", .0.display())]
    Configured(PathBuf, #[source] std::io::Error),
    #[error("cannot write the keyring {}", .0.display())]
    Write(PathBuf, #[source] std::io::Error),
}

/// A keyring carried in the binary with the primary keys it must hold.
#[derive(Debug)]
pub struct BuiltinKeyring {
    /// The file name apt knows it by, `ubuntu-archive-keyring.gpg`.
    pub name: &'static str,
    pub data: &'static [u8],
    /// OpenPGP v4 fingerprints of its primary keys, upper-case hex, in file order.
    pub fingerprints: &'static [&'static str],
}

pub static DEBIAN: BuiltinKeyring = BuiltinKeyring {
    name: "debian-archive-keyring.gpg",
    data: include_bytes!("../keys/debian-archive-keyring.gpg"),
    fingerprints: &[
        "1F89983E0081FDE018F3CC9673A4F27B8DD47936",
        "AC530D520F2F3269F5E98313A48449044AAD5C5D",
        "A4285295FC7B1A81600062A9605C66F00D6C9793",
        "4D64FEC119C2029067D6E791F8D2585B8783D481",
        "B8B80B5B623EAB6AD8775C45B7C5D7D6350947F8",
        "05AB90340C0C5E797F44A8C8254CF3B5AEC0A8F0",
        "04B54C3CDCA79751B16BC6B5225629DF75B188BD",
        "5E04A1E3223A19A20706E20F9904613D4CCE68C6",
        "41587F7DB8C774BCCF131416762F67A0B2C39DE4",
    ],
};

pub static UBUNTU: BuiltinKeyring = BuiltinKeyring {
    name: "ubuntu-archive-keyring.gpg",
    data: include_bytes!("../keys/ubuntu-archive-keyring.gpg"),
    fingerprints: &[
        "790BC7277767219C42C86F933B4FE6ACC0B21F32",
        "843938DF228D22F7B3742BC0D94AA3F0EFE21092",
        "F6ECB3762474EDA9D21B7022871920D1991BC93C",
    ],
};

impl BuiltinKeyring {
    /// Checks that the data holds exactly the expected primary keys.
    pub fn verify(&self) -> Result<(), KeyringError> {
        let found = fingerprints(self.name, self.data)?;
        if found
            .iter()
            .map(String::as_str)
            .ne(self.fingerprints.iter().copied())
        {
            return Err(KeyringError::Fingerprints {
                name: self.name,
                found,
                expected: self.fingerprints,
            });
        }
        Ok(())
    }
}

/// Which keyring verifies an archive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Keyring {
    Builtin(&'static str),
    /// A file the configuration names (`[images] debian_keyring` or `ubuntu_keyring`).
    File(PathBuf),
}

impl Keyring {
    fn builtin(&self) -> Option<&'static BuiltinKeyring> {
        match self {
            Self::Builtin(name) => [&DEBIAN, &UBUNTU].into_iter().find(|k| k.name == *name),
            Self::File(_) => None,
        }
    }

    /// Writes the keyring into `dir` (a directory of its own, which apt then trusts alone) and
    /// returns the file: a built-in one after checking its fingerprints, a configured one as
    /// it is (named `.asc` when armoured, else `.gpg`, as apt wants).
    pub fn materialise(&self, dir: &Path) -> Result<PathBuf, KeyringError> {
        let (name, data) = match (self, self.builtin()) {
            (Self::File(path), _) => {
                let data =
                    std::fs::read(path).map_err(|e| KeyringError::Configured(path.clone(), e))?;
                let armoured = data.starts_with(b"-----BEGIN PGP");
                let name = if armoured {
                    "configured.asc"
                } else {
                    "configured.gpg"
                };
                (name.to_owned(), std::borrow::Cow::Owned(data))
            }
            (Self::Builtin(_), Some(builtin)) => {
                builtin.verify()?;
                (
                    builtin.name.to_owned(),
                    std::borrow::Cow::Borrowed(builtin.data),
                )
            }
            (Self::Builtin(name), None) => {
                return Err(KeyringError::Malformed {
                    name: (*name).to_owned(),
                    why: "no such built-in keyring",
                });
            }
        };
        let path = dir.join(name);
        std::fs::write(&path, &data).map_err(|e| KeyringError::Write(path.clone(), e))?;
        Ok(path)
    }

    pub fn describe(&self) -> String {
        match self {
            Self::Builtin(name) => format!("built-in {name}"),
            Self::File(path) => path.display().to_string(),
        }
    }
}

/// The v4 fingerprints of the primary keys (public-key packets) in a binary OpenPGP keyring.
pub fn fingerprints(name: &str, mut data: &[u8]) -> Result<Vec<String>, KeyringError> {
    let bad = |why| KeyringError::Malformed {
        name: name.to_owned(),
        why,
    };
    let mut found = Vec::new();
    while !data.is_empty() {
        let (tag, body, rest) = packet(data).map_err(bad)?;
        if tag == PUBLIC_KEY {
            match body.first() {
                Some(4) => found.push(v4_fingerprint(body).map_err(bad)?),
                _ => return Err(bad("a public key that is not version 4")),
            }
        }
        data = rest;
    }
    if found.is_empty() {
        return Err(bad("no public key in it"));
    }
    Ok(found)
}

const PUBLIC_KEY: u8 = 6;

/// One packet: (tag, body, the rest). RFC 4880 §4.2, old and new formats, no partial lengths.
fn packet(data: &[u8]) -> Result<(u8, &[u8], &[u8]), &'static str> {
    let (&head, rest) = data.split_first().ok_or("empty")?;
    if head & 0x80 == 0 {
        return Err("a packet header without its high bit");
    }
    let take = |rest: &[u8], n: usize| -> Result<usize, &'static str> {
        let bytes = rest.get(..n).ok_or("a truncated packet length")?;
        Ok(bytes
            .iter()
            .fold(0usize, |acc, b| (acc << 8) | usize::from(*b)))
    };
    let (tag, header, len) = if head & 0x40 != 0 {
        let tag = head & 0x3f;
        match rest.first().copied().ok_or("a truncated packet length")? {
            first @ 0..192 => (tag, 1, usize::from(first)),
            first @ 192..224 => {
                let second = usize::from(*rest.get(1).ok_or("a truncated packet length")?);
                (tag, 2, ((usize::from(first) - 192) << 8) + second + 192)
            }
            255 => (tag, 5, take(&rest[1..], 4)?),
            _ => return Err("a partial-length packet"),
        }
    } else {
        let tag = (head >> 2) & 0x0f;
        match head & 0x03 {
            0 => (tag, 1, take(rest, 1)?),
            1 => (tag, 2, take(rest, 2)?),
            2 => (tag, 4, take(rest, 4)?),
            _ => return Err("an indeterminate-length packet"),
        }
    };
    let rest = &rest[header..];
    if rest.len() < len {
        return Err("a truncated packet");
    }
    let (body, rest) = rest.split_at(len);
    Ok((tag, body, rest))
}

/// RFC 4880 §12.2: SHA-1 of 0x99, the two-octet body length and the body.
fn v4_fingerprint(body: &[u8]) -> Result<String, &'static str> {
    let len = u16::try_from(body.len()).map_err(|_| "a key packet over 64 KiB")?;
    let mut hash = Sha1::new();
    hash.update([0x99]);
    hash.update(len.to_be_bytes());
    hash.update(body);
    Ok(hash.finalize().iter().map(|b| format!("{b:02X}")).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_builtin_keyrings_hold_the_published_keys() {
        DEBIAN.verify().expect("debian keyring");
        UBUNTU.verify().expect("ubuntu keyring");
    }

    #[test]
    fn a_changed_keyring_is_refused() {
        let tampered = BuiltinKeyring {
            name: "ubuntu-archive-keyring.gpg",
            data: DEBIAN.data,
            fingerprints: UBUNTU.fingerprints,
        };
        assert!(matches!(
            tampered.verify(),
            Err(KeyringError::Fingerprints { .. })
        ));
        let mut flipped = UBUNTU.data.to_vec();
        flipped[40] ^= 1;
        let found = fingerprints("x", &flipped).expect("still parses");
        assert_ne!(found, UBUNTU.fingerprints);
    }

    #[test]
    fn garbage_is_not_a_keyring() {
        for data in [&b""[..], b"hello", &[0x99, 0x01], &UBUNTU.data[..100]] {
            assert!(fingerprints("x", data).is_err(), "{data:?}");
        }
    }

    #[test]
    fn a_builtin_keyring_is_written_where_asked() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = Keyring::Builtin(UBUNTU.name)
            .materialise(dir.path())
            .expect("written");
        assert_eq!(std::fs::read(&path).expect("read"), UBUNTU.data);
        let armoured = dir.path().join("key.txt");
        std::fs::write(&armoured, "-----BEGIN PGP PUBLIC KEY BLOCK-----\n").expect("write");
        let copied = Keyring::File(armoured)
            .materialise(dir.path())
            .expect("copied");
        assert_eq!(copied, dir.path().join("configured.asc"));
        let missing = Keyring::File(dir.path().join("nope.gpg")).materialise(dir.path());
        assert!(matches!(missing, Err(KeyringError::Configured(..))));
    }
}
