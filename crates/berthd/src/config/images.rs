//! `[images]`: where built images are kept, the mirrors and keyrings they are built from, and
//! the image servers (`[[images.remotes]]`, simplestreams) images can be fetched from.

use std::path::PathBuf;

use berth_image::Mirrors;
use berth_image::streams::Remote;
use serde::Deserialize;

/// `[[images.remotes]]`: an image server speaking simplestreams.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RemoteConfig {
    /// `images` in `images:alpine/3.20`.
    pub name: String,
    /// Base URL, `https://images.linuxcontainers.org`.
    pub url: String,
}

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
    /// Image servers, by name.
    pub remotes: Vec<RemoteConfig>,
    /// Cached images older than this (`30d`, `12h`; a number with m, h, d or w) are built or
    /// fetched again in the background; empty: never.
    pub refresh_after: String,
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
            remotes: Vec::new(),
            refresh_after: String::new(),
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

    /// The configured image servers.
    pub fn remotes(&self) -> Vec<Remote> {
        self.remotes
            .iter()
            .map(|r| Remote {
                name: r.name.clone(),
                url: r.url.clone(),
            })
            .collect()
    }

    /// `refresh_after` as a duration; `None` when refreshing is off.
    pub fn refresh_after(&self) -> Result<Option<std::time::Duration>, String> {
        let raw = self.refresh_after.trim();
        if raw.is_empty() {
            return Ok(None);
        }
        let age = berth_types::schedule::parse_duration(raw, "images.refresh_after")
            .map_err(|e| format!("images.refresh_after: {}", e.message))?;
        age.to_std()
            .map(Some)
            .map_err(|_| "images.refresh_after: must be positive".to_owned())
    }

    pub fn validate(&self) -> Result<(), String> {
        self.refresh_after()?;
        for (i, remote) in self.remotes().iter().enumerate() {
            remote
                .validate()
                .map_err(|e| format!("images.remotes[{i}]: {e}"))?;
            // Berth's own image namespaces: the catalogue's distributions and `oci:` apps.
            if berth_types::ServerImage::reserved(&remote.name) {
                return Err(format!(
                    "images.remotes[{i}]: the name {:?} is taken by Berth's own images \
                     (debian:12, oci:APP); pick another",
                    remote.name
                ));
            }
            if self.remotes[..i].iter().any(|r| r.name == remote.name) {
                return Err(format!(
                    "images.remotes[{i}]: the name {:?} is used twice; give each server its own",
                    remote.name
                ));
            }
        }
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
    fn refresh_after_is_a_duration_or_off() {
        let mut config = ImagesConfig::default();
        assert_eq!(config.refresh_after(), Ok(None));
        config.refresh_after = "2d".into();
        assert_eq!(
            config.refresh_after(),
            Ok(Some(std::time::Duration::from_secs(2 * 86_400)))
        );
        config.refresh_after = "soon".into();
        assert!(
            config
                .validate()
                .is_err_and(|e| e.starts_with("images.refresh_after"))
        );
    }

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

    #[test]
    fn remotes_have_unique_names_and_http_urls() {
        let remote = |name: &str, url: &str| RemoteConfig {
            name: name.into(),
            url: url.into(),
        };
        let config = |remotes| ImagesConfig {
            remotes,
            ..ImagesConfig::default()
        };
        let good = config(vec![remote("images", "https://images.linuxcontainers.org")]);
        assert!(good.validate().is_ok());
        assert_eq!(good.remotes()[0].name, "images");
        for (bad, why) in [
            (vec![remote("Images", "https://x")], "images.remotes[0]"),
            (vec![remote("images", "ftp://x")], "images.remotes[0]"),
            (vec![remote("debian", "http://x")], "images.remotes[0]"),
            (
                vec![remote("a", "http://x"), remote("a", "http://y")],
                "images.remotes[1]",
            ),
        ] {
            let err = config(bad).validate().expect_err(why);
            assert!(err.starts_with(why), "{err}");
        }
    }
}
