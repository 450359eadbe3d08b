//! `[images]`: where built images are kept, the mirrors and keyrings they are built from.

use std::path::PathBuf;

use berth_image::Mirrors;
use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ImagesConfig {
    /// Built images; `<data_dir>/images` when empty.
    pub cache_dir: Option<PathBuf>,
    /// Empty: the mirror the host's apt sources use.
    pub debian_mirror: String,
    pub ubuntu_mirror: String,
    pub ubuntu_ports_mirror: String,
    /// The keyring that verifies Debian archives; empty: the one Berth carries.
    pub debian_keyring: Option<PathBuf>,
    /// The keyring that verifies Ubuntu archives; empty: the one Berth carries.
    pub ubuntu_keyring: Option<PathBuf>,
    /// `false` accepts archive metadata past its `Valid-Until` date (a snapshot mirror);
    /// signatures are checked all the same.
    pub check_valid_until: bool,
}

impl Default for ImagesConfig {
    fn default() -> Self {
        Self {
            cache_dir: None,
            debian_mirror: String::new(),
            ubuntu_mirror: String::new(),
            ubuntu_ports_mirror: String::new(),
            debian_keyring: None,
            ubuntu_keyring: None,
            check_valid_until: true,
        }
    }
}

impl ImagesConfig {
    pub fn mirrors(&self) -> Mirrors {
        let empty_none = |s: &str| (!s.trim().is_empty()).then(|| s.trim().to_owned());
        Mirrors {
            debian: empty_none(&self.debian_mirror),
            ubuntu: empty_none(&self.ubuntu_mirror),
            ubuntu_ports: empty_none(&self.ubuntu_ports_mirror),
            debian_keyring: self.debian_keyring.clone(),
            ubuntu_keyring: self.ubuntu_keyring.clone(),
            ignore_valid_until: !self.check_valid_until,
        }
    }

    pub fn validate(&self) -> Result<(), String> {
        for (field, path) in [
            ("images.debian_keyring", &self.debian_keyring),
            ("images.ubuntu_keyring", &self.ubuntu_keyring),
        ] {
            if let Some(path) = path
                && !path.is_absolute()
            {
                return Err(format!(
                    "{field}: {} must be an absolute path",
                    path.display()
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_check_valid_until() {
        let config = ImagesConfig::default();
        assert!(!config.mirrors().ignore_valid_until);
        assert!(config.validate().is_ok());
    }

    #[test]
    fn keyrings_are_absolute_paths() {
        let config = ImagesConfig {
            ubuntu_keyring: Some("keys/ubuntu.gpg".into()),
            ..ImagesConfig::default()
        };
        assert!(
            config
                .validate()
                .is_err_and(|e| e.starts_with("images.ubuntu_keyring"))
        );
        let config = ImagesConfig {
            ubuntu_keyring: Some("/etc/berth/ubuntu.gpg".into()),
            check_valid_until: false,
            ..ImagesConfig::default()
        };
        assert!(config.validate().is_ok());
        assert!(config.mirrors().ignore_valid_until);
    }
}
