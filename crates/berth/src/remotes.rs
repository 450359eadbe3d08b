//! Remotes saved by `berth login`: `~/.config/berth/remotes.json` (0600 in a 0700 directory)
//! holds each remote's API token and pinned certificate fingerprint, and which one is the
//! default.

use std::collections::BTreeMap;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::PathBuf;

use anyhow::Context;
use serde::{Deserialize, Serialize};

/// One saved remote.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SavedRemote {
    /// `berth_…`: the API token `berth login` created.
    pub token: String,
    /// The token's id, so `berth logout` can revoke it.
    #[serde(default)]
    pub token_id: Option<String>,
    /// `AB:CD:…` for `https://` remotes.
    #[serde(default)]
    pub fingerprint: Option<String>,
    #[serde(default)]
    pub username: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Remotes {
    /// The remote used when neither `--remote` nor `--socket` is given.
    #[serde(default)]
    pub default: Option<String>,
    #[serde(default)]
    pub remotes: BTreeMap<String, SavedRemote>,
}

/// `$XDG_CONFIG_HOME/berth/remotes.json`, or `~/.config/berth/remotes.json`.
pub fn path() -> anyhow::Result<PathBuf> {
    let base = match std::env::var_os("XDG_CONFIG_HOME").filter(|v| !v.is_empty()) {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(
            std::env::var_os("HOME").context("HOME is not set; cannot find ~/.config/berth")?,
        )
        .join(".config"),
    };
    Ok(base.join("berth").join("remotes.json"))
}

/// A remote URL as it is saved and looked up: no trailing slash.
pub fn key(url: &str) -> String {
    url.trim_end_matches('/').to_owned()
}

impl Remotes {
    /// The saved remotes; none when the file does not exist.
    pub fn load() -> anyhow::Result<Self> {
        let path = path()?;
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).with_context(|| {
                format!(
                    "{} is not a remotes file berth can read; fix or delete it",
                    path.display()
                )
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Self::default()),
            Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
        }
    }

    /// Writes the file 0600 (created so; never readable by others, even for a moment).
    pub fn save(&self) -> anyhow::Result<PathBuf> {
        let path = path()?;
        let dir = path.parent().context("the remotes file has no directory")?;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .with_context(|| format!("creating {}", dir.display()))?;
        let temp = dir.join(format!(".remotes.json.{}", std::process::id()));
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&temp)
            .with_context(|| format!("writing {}", temp.display()))?;
        file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
        file.write_all(&serde_json::to_vec_pretty(self)?)?;
        file.sync_all()?;
        std::fs::rename(&temp, &path).with_context(|| format!("writing {}", path.display()))?;
        Ok(path)
    }

    pub fn get(&self, url: &str) -> Option<&SavedRemote> {
        self.remotes.get(&key(url))
    }
}
