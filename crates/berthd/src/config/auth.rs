//! `[auth]` and the TLS keys: the first admin's password, session and audit retention, and where
//! the HTTPS listeners' certificate comes from.

use serde::Deserialize;

/// A configured secret: read from the file or environment, never printed.
#[derive(Clone, Default, Deserialize)]
#[serde(transparent)]
pub struct ConfigSecret(String);

impl ConfigSecret {
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl std::fmt::Debug for ConfigSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

/// `[auth]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthConfig {
    /// The first admin's password; empty: generated, logged once and written to
    /// `<data_dir>/initial-admin-password` (0600).
    pub initial_admin_password: ConfigSecret,
    /// Audit entries older than this many days are deleted.
    pub audit_retention_days: u32,
    /// Unix group whose members are admins on the socket (besides root); the socket is made
    /// group-owned by it when it exists.
    pub socket_group: String,
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            initial_admin_password: ConfigSecret::default(),
            audit_retention_days: 90,
            socket_group: "berth-admin".into(),
        }
    }
}

/// Where the HTTPS listeners' certificate comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TlsSource {
    /// Generated once and kept under `<data_dir>/tls`.
    SelfSigned,
    /// Operator-supplied PEM files.
    Files {
        cert: std::path::PathBuf,
        key: std::path::PathBuf,
    },
}
