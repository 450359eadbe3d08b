//! Backend names: `builtin`, `nspawn`, `proxmox`, … validated once (in config, requests and the
//! store) and carried as a type afterwards. Which backend a name stands for, and what it can
//! do, is the backend registry's business (berthd); nothing else compares names.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::FieldError;

/// A valid backend name: `[a-z][a-z0-9-]{0,31}`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct BackendName(String);

impl BackendName {
    /// The longest name accepted.
    pub const MAX_LEN: usize = 32;

    /// Validates `raw`, naming `field` in the error.
    pub fn parse_field(raw: &str, field: &str) -> Result<Self, FieldError> {
        let bytes = raw.as_bytes();
        let valid = !bytes.is_empty()
            && bytes.len() <= Self::MAX_LEN
            && bytes[0].is_ascii_lowercase()
            && bytes
                .iter()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-');
        if valid {
            Ok(Self(raw.to_owned()))
        } else {
            Err(FieldError::new(
                field,
                format!(
                    "{raw:?} is not a backend name: use 1-{} lowercase letters, digits and '-', \
                     starting with a letter (builtin, nspawn, oci, lxc, proxmox)",
                    Self::MAX_LEN
                ),
            ))
        }
    }

    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        Self::parse_field(raw, "backend")
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for BackendName {
    type Error = FieldError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<BackendName> for String {
    fn from(value: BackendName) -> Self {
        value.0
    }
}

impl std::str::FromStr for BackendName {
    type Err = FieldError;
    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        Self::parse(raw)
    }
}

impl fmt::Display for BackendName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for BackendName {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_backend_names() {
        for ok in [
            "builtin", "nspawn", "oci", "lxc", "proxmox", "sim", "pve-2", "a",
        ] {
            assert_eq!(BackendName::parse(ok).map(String::from), Ok(ok.to_owned()));
        }
        assert!(BackendName::parse(&"a".repeat(32)).is_ok());
    }

    #[test]
    fn rejects_bad_names_naming_the_field() {
        for bad in [
            "",
            "Builtin",
            "1oci",
            "-lxc",
            "lx_c",
            "a b",
            "../x",
            &"a".repeat(33),
        ] {
            let err = BackendName::parse_field(bad, "routing[0].backend").expect_err(bad);
            assert_eq!(err.field, "routing[0].backend");
            assert!(err.message.contains("backend name"), "{}", err.message);
        }
    }

    #[test]
    fn serialises_as_its_text() -> Result<(), serde_json::Error> {
        let name = BackendName::parse("proxmox").map_err(serde::de::Error::custom)?;
        assert_eq!(serde_json::to_string(&name)?, "\"proxmox\"");
        let back: BackendName = serde_json::from_str("\"proxmox\"")?;
        assert_eq!(back, name);
        assert!(serde_json::from_str::<BackendName>("\"Prox mox\"").is_err());
        Ok(())
    }
}
