//! PVE task ids: `UPID:{node}:{pid:08X}:{pstart:08X}:{starttime:08X}:{type}:{id}:{user}:`.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upid {
    pub node: String,
    pub pid: u32,
    pub pstart: u64,
    pub starttime: u64,
    /// `vzcreate`, `vzstart`, `vzshutdown`, `vzdestroy`, …
    pub kind: String,
    /// The vmid (or empty).
    pub id: String,
    pub user: String,
    raw: String,
}

#[derive(Debug, thiserror::Error)]
#[error("not a PVE task id (UPID): {0:?}")]
pub struct BadUpid(pub String);

impl Upid {
    pub fn parse(raw: &str) -> Result<Self, BadUpid> {
        let bad = || BadUpid(raw.to_owned());
        let rest = raw.strip_prefix("UPID:").ok_or_else(bad)?;
        let parts: Vec<&str> = rest.split(':').collect();
        // The user may hold `!token` but never `:`; a trailing `:` leaves one empty part.
        if parts.len() < 7 {
            return Err(bad());
        }
        let hex = |s: &str| u64::from_str_radix(s, 16).map_err(|_| bad());
        Ok(Self {
            node: parts[0].to_owned(),
            pid: u32::try_from(hex(parts[1])?).map_err(|_| bad())?,
            pstart: hex(parts[2])?,
            starttime: hex(parts[3])?,
            kind: parts[4].to_owned(),
            id: parts[5].to_owned(),
            user: parts[6].to_owned(),
            raw: raw.to_owned(),
        })
        .and_then(|u: Self| if u.node.is_empty() { Err(bad()) } else { Ok(u) })
    }

    /// Builds one (the double's side).
    pub fn new(node: &str, pid: u32, starttime: u64, kind: &str, id: &str, user: &str) -> Self {
        let pstart = u64::from(pid) * 7 + 1000;
        let raw = format!("UPID:{node}:{pid:08X}:{pstart:08X}:{starttime:08X}:{kind}:{id}:{user}:");
        Self {
            node: node.to_owned(),
            pid,
            pstart,
            starttime,
            kind: kind.to_owned(),
            id: id.to_owned(),
            user: user.to_owned(),
            raw,
        }
    }

    pub fn as_str(&self) -> &str {
        &self.raw
    }
}

impl fmt::Display for Upid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.raw)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let u = Upid::new(
            "pve1",
            0x1234,
            0x6560_F1A2,
            "vzcreate",
            "100",
            "berth@pve!ci",
        );
        let parsed = Upid::parse(u.as_str()).expect("parses");
        assert_eq!(parsed, u);
        assert_eq!(parsed.kind, "vzcreate");
        assert_eq!(parsed.user, "berth@pve!ci");
    }

    #[test]
    fn real_example() {
        let u = Upid::parse("UPID:pve:00000F3A:00013B1C:6560F1A2:vzstart:101:root@pam:")
            .expect("parses");
        assert_eq!(
            (u.node.as_str(), u.pid, u.id.as_str()),
            ("pve", 0xF3A, "101")
        );
    }

    #[test]
    fn rejects_garbage() {
        assert!(Upid::parse("UPID:pve:zz").is_err());
        assert!(Upid::parse("hello").is_err());
        assert!(Upid::parse("UPID::0:0:0:x:1:u:").is_err());
    }
}
