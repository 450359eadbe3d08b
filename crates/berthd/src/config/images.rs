//! `[images]`: where built images are kept, the mirrors and keyrings they are built from, image
//! servers (`[[images.remotes]]`), and when cached images are refreshed.

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
    /// Rebuild (or download again) a cached image older than this (`30d`), in the background;
    /// empty: never on its own.
    pub refresh_after: String,
    /// Image servers speaking simplestreams (as Incus and LXC use).
    pub remotes: Vec<RemoteConfig>,
}

/// `[[images.remotes]]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RemoteConfig {
    /// What images from it are called: `NAME:alpine/3.20`.
    pub name: String,
    /// The server's base URL (`https://images.example.org`); its index is
    /// `streams/v1/index.json` below it.
    pub url: String,
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
            refresh_after: String::new(),
            remotes: Vec::new(),
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

    /// How old a cached image may get before it is refreshed; `None`: never.
    pub fn refresh_after(&self) -> Result<Option<chrono::Duration>, String> {
        if self.refresh_after.trim().is_empty() {
            return Ok(None);
        }
        berth_types::schedule::parse_duration(&self.refresh_after, "images.refresh_after")
            .map(Some)
            .map_err(|e| e.to_string())
    }

    pub fn validate(&self) -> Result<(), String> {
        self.refresh_after()?;
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
        let mut names = std::collections::BTreeSet::new();
        for remote in &self.remotes {
            let valid = !remote.name.is_empty()
                && remote.name.len() <= 32
                && remote
                    .name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
            if !valid || ["debian", "ubuntu", "oci"].contains(&remote.name.as_str()) {
                return Err(format!(
                    "images.remotes.name: {:?} must be 1–32 of a-z, 0-9, - and not debian, ubuntu or oci",
                    remote.name
                ));
            }
            if !names.insert(remote.name.as_str()) {
                return Err(format!(
                    "images.remotes.name: {:?} is given twice",
                    remote.name
                ));
            }
            if !(remote.url.starts_with("http://") || remote.url.starts_with("https://")) {
                return Err(format!(
                    "images.remotes.url: {:?} must be an http:// or https:// URL",
                    remote.url
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
    fn defaults_check_valid_until_and_never_refresh() {
        let config = ImagesConfig::default();
        assert!(!config.mirrors().ignore_valid_until);
        assert_eq!(config.refresh_after(), Ok(None));
        assert!(config.validate().is_ok());
    }

    #[test]
    fn bad_values_name_their_key() {
        let mut config = ImagesConfig {
            refresh_after: "soon".into(),
            ..ImagesConfig::default()
        };
        assert!(
            config
                .validate()
                .is_err_and(|e| e.starts_with("images.refresh_after"))
        );
        config.refresh_after = "30d".into();
        config.remotes = vec![RemoteConfig {
            name: "Images".into(),
            url: "https://x".into(),
        }];
        assert!(
            config
                .validate()
                .is_err_and(|e| e.starts_with("images.remotes.name"))
        );
        config.remotes[0].name = "lxc".into();
        config.remotes[0].url = "ftp://x".into();
        assert!(
            config
                .validate()
                .is_err_and(|e| e.starts_with("images.remotes.url"))
        );
        config.remotes[0].url = "http://127.0.0.1:8000".into();
        assert!(config.validate().is_ok());
    }
}
