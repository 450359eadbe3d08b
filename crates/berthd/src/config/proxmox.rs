//! `[proxmox]`: where the Proxmox VE API is, the API token (its secret inline, from
//! `BERTH_PROXMOX__TOKEN_SECRET`, or from a 0600 file), how its certificate is trusted, and where
//! new containers go; `[proxmox.ssh]` (in `proxmox_ssh`) how Berth reaches the nodes' shells.

use std::path::PathBuf;
use std::time::Duration;

use berth_proxmox::client::tls::parse_fingerprint;
use berth_proxmox::{ClientConfig, Secret, Trust};
use berth_runtime::proxmox::ProxmoxSettings;
use serde::Deserialize;

use super::ConfigSecret;
use super::proxmox_ssh::ProxmoxSshConfig;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ProxmoxConfig {
    /// `https://pve1:8006`.
    pub url: String,
    /// `USER@REALM!TOKENID`.
    pub token_id: String,
    pub token_secret: ConfigSecret,
    /// A file holding the secret (mode 0600 or stricter), instead of `token_secret`.
    pub token_secret_file: Option<PathBuf>,
    /// SHA-256 of the node's certificate (`pvenode cert info`), `AB:CD:…`.
    pub fingerprint: Option<String>,
    /// Verify the certificate against `ca_file` instead of pinning it.
    pub verify_tls: bool,
    pub ca_file: Option<PathBuf>,
    /// Storage with the `vztmpl` templates.
    pub template_storage: String,
    /// Storage for root filesystems.
    pub rootfs_storage: String,
    /// Bridge for the containers' `net0`.
    pub bridge: String,
    /// Node for new containers; empty: the online node with the most free memory.
    pub node: String,
    pub unprivileged: bool,
    /// Deadline of one API call.
    pub timeout_ms: u64,
    /// How long a `/cluster/resources` read answers reads (`X-Cache-Status: HIT`).
    pub cache_ttl_ms: u64,
    /// How often a running PVE task is polled.
    pub task_poll_ms: u64,
    /// How long a read (`GET /instances`) waits for PVE before answering from the cache,
    /// marked `STALE`; the refresh goes on in the background.
    pub read_deadline_ms: u64,
    /// How often berthd re-reads `/cluster/resources` in the background, to publish changes
    /// made outside Berth (stopped in the PVE UI, migrated, deleted) as events.
    pub poll_interval_ms: u64,
    /// SSH to the nodes for `pct exec` (root's password and keys); absent: those answer 501.
    pub ssh: Option<ProxmoxSshConfig>,
}

impl Default for ProxmoxConfig {
    fn default() -> Self {
        Self {
            url: String::new(),
            token_id: String::new(),
            token_secret: ConfigSecret::default(),
            token_secret_file: None,
            fingerprint: None,
            verify_tls: false,
            ca_file: None,
            template_storage: "local".into(),
            rootfs_storage: "local-lvm".into(),
            bridge: "vmbr0".into(),
            node: String::new(),
            unprivileged: true,
            timeout_ms: 10_000,
            cache_ttl_ms: 5_000,
            task_poll_ms: 500,
            read_deadline_ms: 2_000,
            poll_interval_ms: 10_000,
            ssh: None,
        }
    }
}

impl ProxmoxConfig {
    /// The backend's settings; errors name the key at fault.
    pub fn settings(&self) -> Result<ProxmoxSettings, String> {
        if self.url.is_empty() {
            return Err("proxmox.url: is required (https://HOST:8006)".into());
        }
        if self.token_id.is_empty() {
            return Err("proxmox.token_id: is required (USER@REALM!TOKENID)".into());
        }
        let secret = self.secret()?;
        let trust = match (&self.fingerprint, self.verify_tls, &self.ca_file) {
            (Some(fp), false, None) => {
                Trust::Fingerprint(parse_fingerprint(fp).map_err(|e| e.to_string())?)
            }
            (None, true, Some(ca)) => Trust::CaFile(ca.clone()),
            (None, true, None) => {
                return Err("proxmox.ca_file: is required with verify_tls = true".into());
            }
            (Some(_), true, _) => {
                return Err(
                    "proxmox.fingerprint and verify_tls exclude each other; keep one".into(),
                );
            }
            _ => {
                return Err("proxmox.fingerprint: is required (the SHA-256 shown by \
                            `pvenode cert info`), or set verify_tls = true with ca_file"
                    .into());
            }
        };
        let client = ClientConfig {
            url: self.url.trim_end_matches('/').to_owned(),
            token_id: self.token_id.clone(),
            token_secret: secret,
            trust,
            timeout: Duration::from_millis(self.timeout_ms.max(1)),
        };
        // The URL and token id are checked by building a client once.
        berth_proxmox::Client::new(client.clone()).map_err(|e| e.to_string())?;
        Ok(ProxmoxSettings {
            client,
            template_storage: self.template_storage.clone(),
            rootfs_storage: self.rootfs_storage.clone(),
            bridge: self.bridge.clone(),
            node: Some(self.node.clone()).filter(|n| !n.is_empty()),
            unprivileged: self.unprivileged,
            cache_ttl: Duration::from_millis(self.cache_ttl_ms),
            task_poll: Duration::from_millis(self.task_poll_ms.max(10)),
            read_deadline: Duration::from_millis(self.read_deadline_ms.max(10)),
            poll_interval: Duration::from_millis(self.poll_interval_ms.max(100)),
            ssh: self
                .ssh
                .as_ref()
                .map(ProxmoxSshConfig::settings)
                .transpose()?,
        })
    }

    fn secret(&self) -> Result<Secret, String> {
        match (&self.token_secret_file, self.token_secret.is_empty()) {
            (Some(_), false) => Err(
                "proxmox.token_secret and token_secret_file exclude each other; keep one".into(),
            ),
            (None, true) => Err(
                "proxmox.token_secret: is required (or token_secret_file, or \
                                 BERTH_PROXMOX__TOKEN_SECRET)"
                    .into(),
            ),
            (None, false) => Ok(Secret::new(self.token_secret.expose())),
            (Some(path), true) => {
                use std::os::unix::fs::MetadataExt;
                let shown = path.display();
                let meta = std::fs::metadata(path)
                    .map_err(|e| format!("proxmox.token_secret_file {shown}: {e}"))?;
                if meta.mode() & 0o077 != 0 {
                    return Err(format!(
                        "proxmox.token_secret_file {shown}: readable by others (mode {:o}); \
                         chmod 600 it",
                        meta.mode() & 0o777
                    ));
                }
                let text = std::fs::read_to_string(path)
                    .map_err(|e| format!("proxmox.token_secret_file {shown}: {e}"))?;
                let secret = text.trim();
                if secret.is_empty() {
                    return Err(format!("proxmox.token_secret_file {shown}: is empty"));
                }
                Ok(Secret::new(secret))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn base() -> ProxmoxConfig {
        ProxmoxConfig {
            url: "https://pve1:8006".into(),
            token_id: "berth@pve!berth".into(),
            token_secret: toml::from_str::<toml::Table>("s = \"abc\"")
                .ok()
                .and_then(|t| t.get("s").cloned())
                .and_then(|v| v.try_into().ok())
                .unwrap_or_default(),
            fingerprint: Some(vec!["AB"; 32].join(":")),
            ..ProxmoxConfig::default()
        }
    }

    #[test]
    fn a_complete_section_gives_settings() {
        let settings = base().settings().expect("valid");
        assert_eq!(settings.client.url, "https://pve1:8006");
        assert_eq!(settings.rootfs_storage, "local-lvm");
        assert_eq!(format!("{:?}", settings.client.token_secret), "<redacted>");
    }

    #[test]
    fn errors_name_the_key() {
        let cases = [
            (
                ProxmoxConfig {
                    fingerprint: None,
                    ..base()
                },
                "proxmox.fingerprint: is required",
            ),
            (
                ProxmoxConfig {
                    fingerprint: Some("AB:CD".into()),
                    ..base()
                },
                "proxmox.fingerprint:",
            ),
            (
                ProxmoxConfig {
                    url: "http://pve1".into(),
                    ..base()
                },
                "proxmox.url",
            ),
            (
                ProxmoxConfig {
                    token_id: "berth".into(),
                    ..base()
                },
                "proxmox.token_id",
            ),
            (
                ProxmoxConfig {
                    verify_tls: true,
                    fingerprint: None,
                    ..base()
                },
                "proxmox.ca_file",
            ),
            (
                ProxmoxConfig {
                    token_secret: ConfigSecret::default(),
                    ..base()
                },
                "proxmox.token_secret",
            ),
        ];
        for (config, wanted) in cases {
            let err = config.settings().expect_err(wanted);
            assert!(err.contains(wanted), "{err} should contain {wanted}");
        }
    }

    #[test]
    fn the_secret_file_must_be_private() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("token");
        std::fs::write(&path, "s3cret\n").expect("write");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        let config = ProxmoxConfig {
            token_secret: ConfigSecret::default(),
            token_secret_file: Some(path.clone()),
            ..base()
        };
        let err = config.settings().expect_err("0644 refused");
        assert!(err.contains("chmod 600"), "{err}");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        let settings = config.settings().expect("0600 accepted");
        assert_eq!(settings.client.token_secret.expose(), "s3cret");
    }
}
