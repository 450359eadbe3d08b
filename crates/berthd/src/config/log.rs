//! `[log]`: where berthd's own log goes. Empty `file`: standard error (for journald or a
//! supervisor that rotates). A file is rotated by size, keeps a bounded number of old files,
//! and drops rotated files older than the retention, so it cannot fill the disk.

use serde::Deserialize;

/// `[log]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// The log file; empty: standard error.
    pub file: Option<std::path::PathBuf>,
    /// A file is rotated (to `FILE.1`, `FILE.2`, …) when it would grow past this.
    pub max_size: String,
    /// Rotated files kept; older ones are deleted.
    pub keep: u32,
    /// Rotated files older than this many days are deleted.
    pub max_age_days: u32,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            file: None,
            max_size: "64MiB".into(),
            keep: 4,
            max_age_days: 30,
        }
    }
}

impl LogConfig {
    /// Bytes per file (validated at load).
    pub fn max_bytes(&self) -> u64 {
        berth_types::units::parse_bytes(&self.max_size, "log.max_size").unwrap_or(64 << 20)
    }

    /// The log file, if one is configured (an empty value is none).
    pub fn path(&self) -> Option<&std::path::Path> {
        self.file
            .as_deref()
            .filter(|path| !path.as_os_str().is_empty())
    }

    pub fn validate(&self) -> Result<(), String> {
        let bytes = berth_types::units::parse_bytes(&self.max_size, "log.max_size")
            .map_err(|e| e.to_string())?;
        if bytes < 64 << 10 {
            return Err(format!("log.max_size: {} is below 64KiB", self.max_size));
        }
        if self.keep > 100 {
            return Err(format!("log.keep: {} is more than 100 files", self.keep));
        }
        if self.max_age_days == 0 {
            return Err("log.max_age_days: give 1 or more".into());
        }
        if let Some(file) = self.path()
            && !file.is_absolute()
        {
            return Err(format!(
                "log.file: {} must be an absolute path",
                file.display()
            ));
        }
        Ok(())
    }
}
