//! `[storage]`: the pool's driver and the sizes of what it creates.

use serde::Deserialize;

/// `[storage]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StorageConfig {
    /// `auto` (the existing pool's driver; volume for a new one when it can), `volume`,
    /// `btrfs` or `dir`.
    pub driver: String,
    /// Size of the sparse pool file berthd creates when the data directory cannot hold the
    /// pool itself (xfs for `volume`, btrfs for `btrfs`).
    pub pool_size: String,
    /// The disk of an instance launched without a disk limit on `volume`, where every
    /// instance is a filesystem of its own size.
    pub volume_size: String,
}

impl Default for StorageConfig {
    fn default() -> Self {
        Self {
            driver: "auto".into(),
            pool_size: "100GiB".into(),
            volume_size: "10GiB".into(),
        }
    }
}

impl StorageConfig {
    /// The sizes, checked.
    pub fn options(&self) -> Result<berth_storage::PoolOptions, String> {
        let pool_size = berth_types::units::parse_bytes(&self.pool_size, "storage.pool_size")
            .map_err(|e| e.to_string())?;
        let volume_size = berth_types::units::parse_bytes(&self.volume_size, "storage.volume_size")
            .map_err(|e| e.to_string())?;
        if volume_size < 1 << 30 {
            return Err(format!(
                "storage.volume_size: {:?} is too small for a system; use 1GiB or more",
                self.volume_size
            ));
        }
        Ok(berth_storage::PoolOptions {
            pool_size,
            volume_size,
        })
    }

    pub(super) fn validate(&self) -> Result<(), String> {
        if !berth_storage::DriverChoice::NAMES.contains(&self.driver.as_str()) {
            return Err(format!(
                "storage.driver: {:?} is unknown; use auto, volume, btrfs or dir",
                self.driver
            ));
        }
        self.options().map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drivers_and_sizes_are_checked_by_name() {
        let volume = StorageConfig {
            driver: "volume".into(),
            ..StorageConfig::default()
        };
        assert_eq!(volume.validate(), Ok(()));
        assert_eq!(
            volume.options().map(|o| o.volume_size),
            Ok(berth_storage::DEFAULT_VOLUME_SIZE)
        );
        let zfs = StorageConfig {
            driver: "zfs".into(),
            ..StorageConfig::default()
        };
        assert!(zfs.validate().is_err_and(|e| e.contains("storage.driver")));
        let tiny = StorageConfig {
            volume_size: "10MiB".into(),
            ..StorageConfig::default()
        };
        assert!(
            tiny.validate()
                .is_err_and(|e| e.contains("storage.volume_size"))
        );
    }
}
