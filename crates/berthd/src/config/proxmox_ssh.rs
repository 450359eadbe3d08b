//! `[proxmox.ssh]`: SSH to the Proxmox VE nodes for what PVE's API cannot do (`pct exec`: root's
//! password and SSH keys in a container). The private key must be 0600 and owned by berthd's
//! user; every node's host key is pinned here, and no other key is ever accepted.

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::time::Duration;

use berth_runtime::proxmox::SshSettings;
use berth_types::credentials::validate_ssh_key;
use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ProxmoxSshConfig {
    /// The user on the nodes; `pct` needs root.
    pub user: String,
    /// The private key Berth logs in with (mode 0600, owned by berthd's user).
    pub identity_file: PathBuf,
    pub port: u16,
    /// Node name → its host key, `ssh-ed25519 AAAA…` (`/etc/ssh/ssh_host_ed25519_key.pub` on
    /// the node). Required for every node Berth connects to.
    pub host_keys: BTreeMap<String, String>,
    /// Node name → address, when the one PVE resolved (`/cluster/status`) is not reachable.
    pub addresses: BTreeMap<String, String>,
    pub connect_timeout_ms: u64,
    /// How long one `pct exec` may take, connection included.
    pub command_timeout_ms: u64,
}

impl Default for ProxmoxSshConfig {
    fn default() -> Self {
        Self {
            user: "root".into(),
            identity_file: PathBuf::new(),
            port: 22,
            host_keys: BTreeMap::new(),
            addresses: BTreeMap::new(),
            connect_timeout_ms: 5_000,
            command_timeout_ms: 30_000,
        }
    }
}

impl ProxmoxSshConfig {
    /// The runtime's settings; errors name the key at fault and say what to do.
    pub fn settings(&self) -> Result<SshSettings, String> {
        let valid_word = |w: &str| {
            !w.is_empty()
                && !w.starts_with('-')
                && w.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b))
        };
        if !valid_word(&self.user) {
            return Err(format!(
                "proxmox.ssh.user: {:?} is not a user name (root, or one allowed to run pct)",
                self.user
            ));
        }
        self.check_identity()?;
        if self.host_keys.is_empty() {
            return Err(
                "proxmox.ssh.host_keys: is required: pin each node's host key, \
                        e.g. pve1 = \"ssh-ed25519 AAAA…\" (from /etc/ssh/ssh_host_ed25519_key.pub \
                        on that node); Berth never accepts an unknown host key"
                    .into(),
            );
        }
        let mut host_keys = BTreeMap::new();
        for (node, key) in &self.host_keys {
            let field = format!("proxmox.ssh.host_keys.{node}");
            if !valid_word(node) {
                return Err(format!("{field}: {node:?} is not a node name"));
            }
            let key =
                validate_ssh_key(key, &field).map_err(|e| format!("{field}: {}", e.message))?;
            // known_hosts takes TYPE and key; a comment is dropped.
            let key = key.split_whitespace().take(2).collect::<Vec<_>>().join(" ");
            host_keys.insert(node.clone(), key);
        }
        for (node, address) in &self.addresses {
            if !valid_word(address) {
                return Err(format!(
                    "proxmox.ssh.addresses.{node}: {address:?} is not a host name or address"
                ));
            }
        }
        if self.port == 0 {
            return Err("proxmox.ssh.port: 0 is not a port (default 22)".into());
        }
        Ok(SshSettings {
            user: self.user.clone(),
            identity_file: self.identity_file.clone(),
            port: self.port,
            host_keys,
            addresses: self.addresses.clone(),
            connect_timeout: Duration::from_millis(self.connect_timeout_ms.max(1000)),
            command_timeout: Duration::from_millis(self.command_timeout_ms.max(1000)),
        })
    }

    /// The key file exists, is a regular file, is 0600 or stricter and is berthd's own.
    fn check_identity(&self) -> Result<(), String> {
        let path = &self.identity_file;
        if path.as_os_str().is_empty() {
            return Err(
                "proxmox.ssh.identity_file: is required (the private key Berth logs \
                        in to the nodes with, mode 0600)"
                    .into(),
            );
        }
        let shown = path.display();
        let meta = std::fs::metadata(path)
            .map_err(|e| format!("proxmox.ssh.identity_file {shown}: {e}"))?;
        if !meta.is_file() {
            return Err(format!("proxmox.ssh.identity_file {shown}: is not a file"));
        }
        if meta.mode() & 0o077 != 0 {
            return Err(format!(
                "proxmox.ssh.identity_file {shown}: readable by others (mode {:o}); chmod 600 it",
                meta.mode() & 0o777
            ));
        }
        let euid = nix::unistd::geteuid().as_raw();
        if meta.uid() != euid {
            return Err(format!(
                "proxmox.ssh.identity_file {shown}: owned by uid {}, not by berthd's user \
                 (uid {euid}); chown it",
                meta.uid()
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    const KEY: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGbl8f6yP2N1PRxGx2D9rG3m0Yb3dO8bS4w3E6iSx0rN root@pve1";

    #[test]
    fn the_key_must_be_private_and_host_keys_pinned() {
        let dir = tempfile::tempdir().expect("tempdir");
        let identity = dir.path().join("id_ed25519");
        std::fs::write(&identity, "key").expect("write");
        std::fs::set_permissions(&identity, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        let mut config = ProxmoxSshConfig {
            identity_file: identity.clone(),
            host_keys: BTreeMap::from([("pve1".to_owned(), KEY.to_owned())]),
            ..ProxmoxSshConfig::default()
        };
        let err = config.settings().expect_err("0644 refused");
        assert!(
            err.starts_with("proxmox.ssh.identity_file") && err.contains("chmod 600"),
            "{err}"
        );
        std::fs::set_permissions(&identity, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        let settings = config.settings().expect("valid");
        assert_eq!(
            settings.host_keys["pve1"],
            KEY.rsplit_once(' ').map(|k| k.0).unwrap_or(KEY)
        );
        assert_eq!((settings.user.as_str(), settings.port), ("root", 22));

        config
            .host_keys
            .insert("pve2".into(), "ssh-ed25519 !!!".into());
        let err = config.settings().expect_err("bad key");
        assert!(err.starts_with("proxmox.ssh.host_keys.pve2:"), "{err}");
        config.host_keys.clear();
        let err = config.settings().expect_err("no keys");
        assert!(
            err.starts_with("proxmox.ssh.host_keys: is required"),
            "{err}"
        );
        config.identity_file = PathBuf::new();
        let err = config.settings().expect_err("no identity");
        assert!(
            err.starts_with("proxmox.ssh.identity_file: is required"),
            "{err}"
        );
    }
}
