//! The host ids a guest owns: an isolated range of 65,536 uids and the same gids, guest id N
//! being host id `start + N`. Ranges start on a 65,536 boundary (the systemd convention: the
//! upper 16 bits name the guest, the lower 16 bits are the guest's own id), so two ranges
//! either coincide or share nothing.

use serde::{Deserialize, Serialize};

use crate::FieldError;

/// How many ids (uids, and as many gids) one guest gets: the whole 16-bit range its
/// distribution uses, `nobody` (65534) included.
pub const IDS_PER_GUEST: u32 = 65_536;

/// One guest's ids on the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "u32", into = "u32")]
pub struct IdRange {
    start: u32,
}

impl IdRange {
    /// The range starting at host id `start`: a non-zero multiple of 65,536 that leaves room
    /// for the whole range below `u32::MAX` (which is `(uid_t) -1`, no id at all).
    pub fn new(start: u32) -> Result<Self, FieldError> {
        if start == 0 || !start.is_multiple_of(IDS_PER_GUEST) || start > u32::MAX - IDS_PER_GUEST {
            return Err(FieldError::new(
                "idmap",
                format!(
                    "{start} is not the start of a guest's id range (a non-zero multiple of \
                     {IDS_PER_GUEST} below {})",
                    u32::MAX - IDS_PER_GUEST + 1
                ),
            ));
        }
        Ok(Self { start })
    }

    /// The host id of the guest's root.
    pub fn start(&self) -> u32 {
        self.start
    }

    /// The last host id of the range.
    pub fn last(&self) -> u32 {
        self.start + (IDS_PER_GUEST - 1)
    }

    /// The host id guest id `guest` maps to, `None` past the range.
    pub fn host_id(&self, guest: u32) -> Option<u32> {
        (guest < IDS_PER_GUEST).then(|| self.start + guest)
    }

    /// The guest id host id `host` is, `None` when the guest cannot see it.
    pub fn guest_id(&self, host: u32) -> Option<u32> {
        self.contains(host).then(|| host - self.start)
    }

    pub fn contains(&self, host: u32) -> bool {
        (self.start..=self.last()).contains(&host)
    }

    /// The line `uid_map` and `gid_map` take: `0 START 65536`.
    pub fn map_line(&self) -> String {
        format!("0 {} {IDS_PER_GUEST}\n", self.start)
    }
}

impl TryFrom<u32> for IdRange {
    type Error = String;
    fn try_from(start: u32) -> Result<Self, String> {
        IdRange::new(start).map_err(|e| e.message)
    }
}

impl From<IdRange> for u32 {
    fn from(range: IdRange) -> u32 {
        range.start
    }
}

impl std::fmt::Display for IdRange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}-{}", self.start, self.last())
    }
}

/// Where guests' ranges come from: `[security] idmap_base` and `idmap_size`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdPool {
    base: u32,
    slots: u32,
}

/// The first id past the signed 32-bit range: ids from here on trip up devpts and
/// `setfsuid()` (systemd's UIDS-GIDS.md), so no pool reaches it.
pub const SIGNED_LIMIT: u64 = 1 << 31;

impl IdPool {
    /// Berth's default pool: systemd's unused 0x70000000…0x7FFDFFFF (4,094 guests), above
    /// systemd-nspawn's and machined's container ranges, Incus/LXD's default 1,000,000 +
    /// 1,000,000,000 and Debian's /etc/subuid allocations (100,000…600,100,000), below
    /// systemd's foreign-image range 0x7FFE0000 and the 2^31 boundary.
    pub const DEFAULT_BASE: u32 = 0x7000_0000;
    pub const DEFAULT_SIZE: u32 = 0x0FFE_0000;

    /// A pool of `size` ids from `base`; errors name the config key to change.
    pub fn new(base: u32, size: u32) -> Result<Self, FieldError> {
        let base_key = "security.idmap_base";
        let size_key = "security.idmap_size";
        if base == 0 || !base.is_multiple_of(IDS_PER_GUEST) {
            return Err(FieldError::new(
                base_key,
                format!(
                    "{base} must be a non-zero multiple of {IDS_PER_GUEST} (ids 0-65535 are the host's own)"
                ),
            ));
        }
        if size < IDS_PER_GUEST || !size.is_multiple_of(IDS_PER_GUEST) {
            return Err(FieldError::new(
                size_key,
                format!("{size} must be a multiple of {IDS_PER_GUEST}, at least one guest's range"),
            ));
        }
        if u64::from(base) + u64::from(size) > SIGNED_LIMIT {
            return Err(FieldError::new(
                size_key,
                format!(
                    "the pool {base}+{size} reaches past {SIGNED_LIMIT} (2^31), where ids break \
                     devpts and setfsuid(); lower idmap_base or idmap_size"
                ),
            ));
        }
        Ok(Self {
            base,
            slots: size / IDS_PER_GUEST,
        })
    }

    pub fn base(&self) -> u32 {
        self.base
    }

    /// The last id of the pool.
    pub fn last(&self) -> u32 {
        self.base + (self.slots * IDS_PER_GUEST - 1)
    }

    /// How many guests' ranges the pool holds.
    pub fn slots(&self) -> u32 {
        self.slots
    }

    /// The `index`th range of the pool, `None` past its end.
    pub fn range(&self, index: u32) -> Option<IdRange> {
        (index < self.slots).then(|| IdRange {
            start: self.base + index * IDS_PER_GUEST,
        })
    }

    /// Whether any id of `first..=last` is in the pool.
    pub fn overlaps(&self, first: u32, last: u32) -> bool {
        first <= self.last() && last >= self.base
    }
}

impl Default for IdPool {
    fn default() -> Self {
        Self {
            base: Self::DEFAULT_BASE,
            slots: Self::DEFAULT_SIZE / IDS_PER_GUEST,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_are_aligned_and_whole() {
        let r = IdRange::new(0x7000_0000).expect("aligned");
        assert_eq!(r.last(), 0x7000_ffff);
        assert_eq!(r.host_id(0), Some(0x7000_0000));
        assert_eq!(r.host_id(65_534), Some(0x7000_fffe));
        assert_eq!(r.host_id(65_536), None);
        assert_eq!(r.guest_id(0x7000_0021), Some(0x21));
        assert_eq!(r.guest_id(0x6fff_ffff), None);
        assert_eq!(r.map_line(), "0 1879048192 65536\n");
        assert_eq!(r.to_string(), "1879048192-1879113727");
        for bad in [0, 100_000, u32::MAX - 65_535, 0xffff_0000] {
            let err = IdRange::new(bad).expect_err("refused");
            assert_eq!(err.field, "idmap");
        }
        assert!(IdRange::new(0xfffe_0000).is_ok());
    }

    #[test]
    fn serialises_as_its_start() {
        let r = IdRange::new(65_536 * 3).expect("aligned");
        assert_eq!(serde_json::to_string(&r).expect("json"), "196608");
        let back: IdRange = serde_json::from_str("196608").expect("parses");
        assert_eq!(back, r);
        assert!(serde_json::from_str::<IdRange>("196609").is_err());
    }

    #[test]
    fn pools_are_aligned_and_stay_below_two_to_the_31() {
        let pool = IdPool::default();
        assert_eq!(pool.slots(), 4094);
        assert_eq!(pool.last(), 0x7ffd_ffff);
        assert_eq!(
            IdPool::new(IdPool::DEFAULT_BASE, IdPool::DEFAULT_SIZE),
            Ok(pool)
        );
        assert_eq!(pool.range(0).map(|r| r.start()), Some(0x7000_0000));
        assert_eq!(pool.range(4093).map(|r| r.last()), Some(0x7ffd_ffff));
        assert_eq!(pool.range(4094), None);
        assert!(pool.overlaps(0x7ffd_ffff, 0x7fff_0000));
        assert!(!pool.overlaps(0, 0x6fff_ffff));
        assert!(!pool.overlaps(0x7ffe_0000, u32::MAX));
        let field = |r: Result<IdPool, FieldError>| r.expect_err("refused").field;
        assert_eq!(field(IdPool::new(0, 65_536)), "security.idmap_base");
        assert_eq!(field(IdPool::new(100_000, 65_536)), "security.idmap_base");
        assert_eq!(field(IdPool::new(65_536, 1000)), "security.idmap_size");
        assert_eq!(
            field(IdPool::new(0x7fff_0000, 0x20000)),
            "security.idmap_size"
        );
        assert!(IdPool::new(0x7fff_0000, 0x10000).is_ok());
    }
}
