//! `[auth]` and the TLS keys: the first admin's password, login throttling, the audit log's
//! retention and size caps, and where the HTTPS listeners' certificate comes from.

use std::time::Duration;

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
    /// The audit log keeps at most this many entries and this many bytes; the oldest go first.
    pub audit_max_entries: u64,
    pub audit_max_size: String,
    /// Unix group whose members are admins on the socket (besides root); the socket is made
    /// group-owned by it when it exists.
    pub socket_group: String,
    /// Failed logins of one username from one client address before each further attempt
    /// from there waits.
    pub login_free_failures: u32,
    /// Failed logins from one client address, whatever the usernames, before it waits.
    pub login_address_free_failures: u32,
    /// The first wait, in seconds; each further failure doubles it, up to the maximum (after
    /// which, without new failures, the count is forgotten).
    pub login_base_delay_seconds: u64,
    pub login_max_delay_seconds: u64,
}

impl Default for AuthConfig {
    fn default() -> Self {
        let login = berth_auth::LoginPolicy::default();
        let audit = berth_auth::AuditBounds::default();
        Self {
            initial_admin_password: ConfigSecret::default(),
            audit_retention_days: 90,
            audit_max_entries: audit.max_entries,
            audit_max_size: "64MiB".into(),
            socket_group: "berth-admin".into(),
            login_free_failures: login.free_failures,
            login_address_free_failures: login.address_free_failures,
            login_base_delay_seconds: login.base_delay.as_secs(),
            login_max_delay_seconds: login.max_delay.as_secs(),
        }
    }
}

impl AuthConfig {
    /// Login throttling as configured.
    pub fn login_policy(&self) -> berth_auth::LoginPolicy {
        berth_auth::LoginPolicy {
            free_failures: self.login_free_failures,
            address_free_failures: self.login_address_free_failures,
            base_delay: Duration::from_secs(self.login_base_delay_seconds),
            max_delay: Duration::from_secs(self.login_max_delay_seconds),
        }
    }

    /// The audit log's size caps as configured (validated at load).
    pub fn audit_bounds(&self) -> berth_auth::AuditBounds {
        berth_auth::AuditBounds {
            max_entries: self.audit_max_entries,
            max_bytes: berth_types::units::parse_bytes(&self.audit_max_size, "auth.audit_max_size")
                .unwrap_or(berth_auth::AuditBounds::default().max_bytes),
        }
    }

    pub fn validate(&self) -> Result<(), String> {
        let bytes = berth_types::units::parse_bytes(&self.audit_max_size, "auth.audit_max_size")
            .map_err(|e| e.to_string())?;
        if bytes < 1 << 20 {
            return Err(format!(
                "auth.audit_max_size: {} is below 1MiB; the log would hold almost nothing",
                self.audit_max_size
            ));
        }
        if self.audit_max_entries < 100 {
            return Err("auth.audit_max_entries: give 100 or more".into());
        }
        if self.login_free_failures == 0 || self.login_address_free_failures == 0 {
            return Err(
                "auth.login_free_failures and auth.login_address_free_failures: give 1 or more"
                    .into(),
            );
        }
        if self.login_base_delay_seconds == 0
            || self.login_max_delay_seconds < self.login_base_delay_seconds
            || self.login_max_delay_seconds > 86_400
        {
            return Err(format!(
                "auth.login_base_delay_seconds ({}) and auth.login_max_delay_seconds ({}): give \
                 1 <= base <= max <= 86400",
                self.login_base_delay_seconds, self.login_max_delay_seconds
            ));
        }
        Ok(())
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
