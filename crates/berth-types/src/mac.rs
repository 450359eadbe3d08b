//! MAC addresses: six octets, written `52:54:00:12:34:56` (lowercase hex, as Linux shows them).

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::FieldError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct MacAddr([u8; 6]);

impl MacAddr {
    pub const fn new(octets: [u8; 6]) -> Self {
        Self(octets)
    }

    pub const fn octets(self) -> [u8; 6] {
        self.0
    }

    /// Parses `52:54:00:12:34:56` (either case), naming `field` in the error.
    pub fn parse_field(raw: &str, field: &str) -> Result<Self, FieldError> {
        let bad = || {
            FieldError::new(
                field,
                format!("{raw:?} is not a MAC address; write six hex octets, 52:54:00:12:34:56"),
            )
        };
        let mut octets = [0u8; 6];
        let mut parts = raw.split(':');
        for octet in &mut octets {
            let part = parts.next().filter(|p| p.len() == 2).ok_or_else(bad)?;
            *octet = u8::from_str_radix(part, 16).map_err(|_| bad())?;
        }
        if parts.next().is_some() {
            return Err(bad());
        }
        Ok(Self(octets))
    }
}

impl fmt::Display for MacAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [a, b, c, d, e, g] = self.0;
        write!(f, "{a:02x}:{b:02x}:{c:02x}:{d:02x}:{e:02x}:{g:02x}")
    }
}

impl std::str::FromStr for MacAddr {
    type Err = FieldError;
    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        Self::parse_field(raw, "mac")
    }
}

impl TryFrom<String> for MacAddr {
    type Error = FieldError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        value.parse()
    }
}

impl From<MacAddr> for String {
    fn from(value: MacAddr) -> Self {
        value.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_its_text() -> Result<(), FieldError> {
        let mac: MacAddr = "52:54:00:AB:0c:ff".parse()?;
        assert_eq!(mac.octets(), [0x52, 0x54, 0x00, 0xab, 0x0c, 0xff]);
        assert_eq!(mac.to_string(), "52:54:00:ab:0c:ff");
        Ok(())
    }

    #[test]
    fn refuses_what_is_not_six_octets() {
        for bad in [
            "",
            "52:54:00:ab:0c",
            "52:54:00:ab:0c:ff:00",
            "52-54-00-ab-0c-ff",
            "5:54:00:ab:0c:ff",
            "zz:54:00:ab:0c:ff",
        ] {
            assert!(bad.parse::<MacAddr>().is_err(), "{bad}");
        }
    }
}
