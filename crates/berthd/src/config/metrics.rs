//! `[metrics]` (collector interval, who may scrape `/metrics`) and `[alerts]` (SMTP for alert
//! email, throttling).

use std::path::PathBuf;

use serde::Deserialize;

use super::ConfigSecret;

/// `[metrics]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsConfig {
    /// How often running instances are sampled: `10s` (a number of seconds that divides a
    /// minute, with `s`, or `1m`).
    pub interval: String,
    /// How often disk usage is measured (one qgroup listing of the pool, or a walk of each tree):
    /// `60s`, `5m`.
    pub disk_interval: String,
    /// Whether `GET /metrics` answers without credentials. Off: the socket, or an admin's
    /// bearer token.
    pub public: bool,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        Self {
            interval: "10s".into(),
            disk_interval: "60s".into(),
            public: false,
        }
    }
}

impl MetricsConfig {
    /// The collector interval in seconds.
    pub fn interval_seconds(&self) -> Result<i64, String> {
        let secs = parse_seconds(&self.interval, "metrics.interval")?;
        if !berth_metrics::tier::VALID_INTERVALS.contains(&secs) {
            return Err(format!(
                "metrics.interval: {:?} must divide a minute: 1s, 2s, 3s, 4s, 5s, 6s, 10s, 12s, 15s, 20s, 30s or 60s",
                self.interval
            ));
        }
        Ok(secs)
    }

    pub fn disk_interval_seconds(&self) -> Result<i64, String> {
        parse_seconds(&self.disk_interval, "metrics.disk_interval")
    }
}

/// `10s`, `5m`, `1h` → seconds.
pub fn parse_seconds(raw: &str, field: &str) -> Result<i64, String> {
    let bad =
        || format!("{field}: {raw:?} is not a duration; use a number with s, m or h, e.g. 10s");
    let raw = raw.trim();
    let split = raw.len().checked_sub(1).ok_or_else(bad)?;
    let (number, unit) = raw.split_at(split);
    let n: i64 = number.parse().ok().filter(|n| *n > 0).ok_or_else(bad)?;
    let unit = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        _ => return Err(bad()),
    };
    n.checked_mul(unit).filter(|s| *s <= 86_400).ok_or_else(bad)
}

/// `[alerts]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AlertsConfig {
    /// Where alert email goes out; without it alerts are recorded and webhooks called, but no
    /// email is sent.
    pub smtp: Option<SmtpConfig>,
}

/// `[alerts.smtp]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpConfig {
    pub host: String,
    /// Default: 25 for `none`, 587 for `starttls`, 465 for `tls`.
    #[serde(default)]
    pub port: Option<u16>,
    /// `none`, `starttls` (default) or `tls`.
    #[serde(default = "default_tls")]
    pub tls: String,
    #[serde(default)]
    pub username: String,
    /// The password itself (better: `BERTH_ALERTS__SMTP__PASSWORD`), or
    #[serde(default)]
    pub password: ConfigSecret,
    /// a file holding it, which must be mode 0600 (or stricter).
    #[serde(default)]
    pub password_file: Option<PathBuf>,
    /// The sender, `Berth <berth@example.com>`.
    pub from: String,
    /// PEM file of certificates to trust besides the public roots (a private CA, or the
    /// relay's self-signed certificate).
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
}

fn default_tls() -> String {
    "starttls".into()
}

impl SmtpConfig {
    /// Checks the settings and reads the password file; errors name the key.
    pub fn settings(&self) -> Result<berth_metrics::alerts::email::SmtpSettings, String> {
        use berth_metrics::alerts::email::{SmtpSettings, Tls};
        let tls = match self.tls.as_str() {
            "none" => Tls::None,
            "starttls" => Tls::StartTls,
            "tls" => Tls::Tls,
            other => {
                return Err(format!(
                    "alerts.smtp.tls: {other:?} is unknown; use none, starttls or tls"
                ));
            }
        };
        if self.host.trim().is_empty() {
            return Err("alerts.smtp.host: empty; name the SMTP server".into());
        }
        let password = match (&self.password_file, self.password.is_empty()) {
            (Some(_), false) => {
                return Err(
                    "alerts.smtp.password_file: set either password or password_file, not both"
                        .into(),
                );
            }
            (Some(path), true) => Some(read_secret_file(path)?),
            (None, false) => Some(self.password.expose().to_owned()),
            (None, true) => None,
        };
        if password.is_some() && self.username.is_empty() {
            return Err("alerts.smtp.username: a password needs a username".into());
        }
        let ca_pem = match &self.ca_file {
            Some(path) => Some(
                std::fs::read(path)
                    .map_err(|e| format!("alerts.smtp.ca_file: {}: {e}", path.display()))?,
            ),
            None => None,
        };
        let settings = SmtpSettings {
            host: self.host.clone(),
            port: self.port.unwrap_or(match tls {
                Tls::None => 25,
                Tls::StartTls => 587,
                Tls::Tls => 465,
            }),
            tls,
            credentials: password.map(|p| (self.username.clone(), p)),
            from: self.from.clone(),
            ca_pem,
        };
        settings
            .check()
            .map_err(|e| format!("alerts.smtp.{}: {}", e.field, e.message))?;
        Ok(settings)
    }
}

fn read_secret_file(path: &std::path::Path) -> Result<String, String> {
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::metadata(path)
        .map_err(|e| format!("alerts.smtp.password_file: {}: {e}", path.display()))?;
    if meta.permissions().mode() & 0o077 != 0 {
        return Err(format!(
            "alerts.smtp.password_file: {} is readable by others; chmod 600 it",
            path.display()
        ));
    }
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("alerts.smtp.password_file: {}: {e}", path.display()))?;
    Ok(text.trim_end_matches(['\n', '\r']).to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_seconds("10s", "x"), Ok(10));
        assert_eq!(parse_seconds("5m", "x"), Ok(300));
        assert!(parse_seconds("10", "x").is_err());
        let bad = MetricsConfig {
            interval: "7s".into(),
            ..MetricsConfig::default()
        };
        assert!(
            bad.interval_seconds()
                .is_err_and(|e| e.starts_with("metrics.interval"))
        );
    }
}
