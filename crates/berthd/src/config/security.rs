//! `[security]`: the pool of host ids guests' user namespaces are drawn from.
//!
//! ```toml
//! [security]
//! idmap_base = 1879048192   # 0x70000000: a multiple of 65536
//! idmap_size = 268304384    # 4,094 guests of 65,536 ids; base + size <= 2^31
//! ```
//!
//! The defaults are systemd's unused 0x70000000…0x7FFDFFFF: clear of systemd-nspawn's and
//! machined's container ranges, Incus/LXD's default pool (1,000,000 + 1,000,000,000), Debian's
//! `useradd` subordinate ids (100,000…600,100,000), systemd's foreign-image range and the 2^31
//! boundary where devpts and `setfsuid()` break. berthd refuses to start when the host
//! already uses ids of the pool (`/etc/subuid`, `/etc/subgid`, `/etc/passwd`, `/etc/group`).

use std::path::Path;

use berth_types::IdPool;
use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SecurityConfig {
    /// The first host id of the pool.
    pub idmap_base: u32,
    /// How many host ids the pool holds (65,536 per guest).
    pub idmap_size: u32,
}

impl Default for SecurityConfig {
    fn default() -> Self {
        Self {
            idmap_base: IdPool::DEFAULT_BASE,
            idmap_size: IdPool::DEFAULT_SIZE,
        }
    }
}

impl SecurityConfig {
    /// The pool, validated; the error names the key to change.
    pub fn pool(&self) -> Result<IdPool, String> {
        IdPool::new(self.idmap_base, self.idmap_size).map_err(|e| e.to_string())
    }

    /// `Ok` when no id of the pool is already used on the host whose configuration is in
    /// `etc`; else every collision, naming the keys to change.
    pub fn check_host(&self, etc: &Path) -> Result<(), String> {
        let pool = self.pool()?;
        let conflicts =
            berth_isolation::hostids::conflicts(&pool, etc).map_err(|e| e.to_string())?;
        if conflicts.is_empty() {
            return Ok(());
        }
        let list: Vec<String> = conflicts.iter().map(ToString::to_string).collect();
        Err(format!(
            "security.idmap_base/security.idmap_size: the id pool {}-{} overlaps ids this host \
             already uses: {}; move the pool (both keys) to a free range, or give the entries \
             other ids (an /etc/subuid or /etc/subgid entry owned by \"{}\" reserves ids for Berth)",
            pool.base(),
            pool.last(),
            list.join("; "),
            berth_isolation::hostids::RESERVATION_OWNER,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_fit_a_plain_host_and_collisions_name_the_keys() {
        let config = SecurityConfig::default();
        let pool = config.pool().expect("default pool");
        assert_eq!((pool.base(), pool.slots()), (0x7000_0000, 4094));
        let etc = tempfile::tempdir().expect("tempdir");
        std::fs::write(etc.path().join("passwd"), "root:x:0:0::/root:/bin/sh\n").expect("passwd");
        assert_eq!(config.check_host(etc.path()), Ok(()));
        std::fs::write(etc.path().join("subuid"), "incus:1879048192:65536\n").expect("subuid");
        let err = config.check_host(etc.path()).expect_err("collision");
        assert!(
            err.starts_with("security.idmap_base/security.idmap_size:"),
            "{err}"
        );
        assert!(err.contains("subuid:1 (incus:1879048192:65536)"), "{err}");
        std::fs::write(etc.path().join("subuid"), "berth:1879048192:268304384\n").expect("subuid");
        assert_eq!(
            config.check_host(etc.path()),
            Ok(()),
            "a reservation for berth"
        );
    }
}
