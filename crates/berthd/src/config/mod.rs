//! berthd's configuration: `/etc/berth/berth.toml` (or `--config FILE`), every key overridable by
//! a `BERTH_*` environment variable (`BERTH_DATA_DIR`, `BERTH_NETWORK__BRIDGE`), unknown keys
//! rejected by name, and defaults for everything so no file is needed.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use berth_types::{BackendName, FieldError};
use serde::Deserialize;

mod auth;
mod host;
mod images;
mod listen;
mod log;
mod metrics;
mod proxmox;
mod proxmox_ssh;
mod rate_limits;
mod security;
mod server;
mod storage;

pub use auth::{AuthConfig, ConfigSecret, TlsSource};
pub use host::HostConfig;
pub use images::ImagesConfig;
pub use listen::ListenAddr;
pub use log::LogConfig;
pub use metrics::{AlertsConfig, MetricsConfig, SmtpConfig};
pub use proxmox::ProxmoxConfig;
pub use rate_limits::{CallClass, RateLimitsConfig, Rates};
pub use security::SecurityConfig;
pub use server::ServerConfig;
pub use storage::StorageConfig;

pub const DEFAULT_CONFIG_PATH: &str = "/etc/berth/berth.toml";

/// Environment variables that start with `BERTH_` but are not configuration keys.
const NOT_CONFIG_VARS: &[&str] = &[
    "BERTH_REMOTE",
    "BERTH_TOKEN",
    "BERTH_FAILPOINTS",
    "BERTH_CONFIG",
    "BERTH_LOG",
    "BERTH_FORMAT",
];

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{origin}: {message}")]
    Invalid { origin: String, message: String },
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub data_dir: PathBuf,
    /// TCP listeners: `ADDR:PORT` (plain HTTP, loopback only) or `https://ADDR:PORT`.
    pub listen: Vec<String>,
    /// The HTTPS listeners' certificate: `"self-signed"` (generated and kept), or empty with
    /// `tls_cert` and `tls_key` naming PEM files.
    pub tls: String,
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    pub auth: AuthConfig,
    pub socket: PathBuf,
    /// Runtime state that must not outlive a host reboot (pid files, shim state, boot marker).
    pub runtime_dir: PathBuf,
    pub default_backend: BackendName,
    /// Seconds a start waits at most for the guest's init to get past its early boot (an
    /// init that dies meanwhile fails the start with the reason); 0: return once exec'd.
    pub boot_wait: u64,
    pub storage: StorageConfig,
    pub images: ImagesConfig,
    pub network: NetworkConfig,
    pub backups: BackupsConfig,
    pub routing: Vec<RoutingRule>,
    pub oci: OciConfig,
    pub security: SecurityConfig,
    /// `[host]`: the kernel limits raised at start.
    pub host: HostConfig,
    pub proxmox: Option<ProxmoxConfig>,
    pub metrics: MetricsConfig,
    pub alerts: AlertsConfig,
    pub server: ServerConfig,
    pub rate_limits: RateLimitsConfig,
    pub log: LogConfig,
    pub testing: TestingConfig,
}

/// The backends a routing rule or `default_backend` may name.
pub const KNOWN_BACKENDS: &[&str] = &["builtin", "nspawn", "oci", "lxc", "proxmox"];

/// `[oci]`: the oci backend.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OciConfig {
    /// `auto` (crun when installed, else runc), `crun` or `runc`: the default of instances
    /// that choose none (a routing rule's or a launch's `runtime` wins).
    pub runtime: String,
}

impl Default for OciConfig {
    fn default() -> Self {
        Self {
            runtime: "auto".into(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NetworkConfig {
    /// The bridge instances plug into; created, or adopted when it exists.
    pub bridge: String,
    /// Gateway address and subnet, `10.88.0.1/20` (4,093 instances, stopped ones included).
    pub ipv4: String,
    /// Gateway address and prefix, `fd42:88::1/64`; empty for no IPv6.
    pub ipv6: String,
    /// The nftables table (family `inet`) berthd owns and rebuilds; it touches no other.
    pub table: String,
    /// Name servers written into guests; empty: the host's own (loopback ones skipped).
    pub dns: Vec<String>,
    /// Host addresses an ordinary user's forwards may listen on (`0.0.0.0` / `::`: every
    /// address); admins may use any. Host ports below 1024 need a range an admin granted
    /// (`quota.port_range`).
    pub forward_addresses: Vec<String>,
    /// Forwards one account may hold, whatever its quota says (each is nftables rules).
    pub max_forwards_per_user: u32,
}

/// `[backups]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BackupsConfig {
    /// Backups kept per instance; older ones are deleted when a new one is made.
    pub keep: u32,
    /// The most an imported archive may unpack to.
    pub max_import: String,
}

impl Default for BackupsConfig {
    fn default() -> Self {
        Self {
            keep: 7,
            max_import: "64GiB".into(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoutingRule {
    pub pattern: String,
    pub backend: BackendName,
    /// The runtime tool the rule's instances run under, on a backend that offers a choice
    /// (`oci`: `crun` or `runc`); absent: `[oci] runtime`. A launch's own `runtime` wins.
    #[serde(default)]
    pub runtime: Option<String>,
}

/// Switches for test suites; not for production.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TestingConfig {
    /// Offer the in-memory `sim` backend.
    pub sim_backend: bool,
    /// Read guests' cgroups and veth counters from synthetic trees under this directory
    /// (`cgroup/` in the v2 layout, `net/`), for every backend including `sim`. No background
    /// collector runs then: the test calls `App::collect_metrics` with its own clock.
    pub metrics_root: Option<PathBuf>,
    /// Check the id pool against the users and subordinate ids under this directory instead
    /// of `/etc`.
    pub etc_dir: Option<PathBuf>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            data_dir: "/var/lib/berth".into(),
            listen: vec!["127.0.0.1:8440".into()],
            tls: String::new(),
            tls_cert: None,
            tls_key: None,
            auth: AuthConfig::default(),
            socket: "/run/berth/berth.sock".into(),
            runtime_dir: "/run/berth".into(),
            default_backend: BackendName::parse("builtin")
                .unwrap_or_else(|_| unreachable!("builtin is a backend name")),
            boot_wait: 5,
            storage: StorageConfig::default(),
            images: ImagesConfig::default(),
            network: NetworkConfig::default(),
            backups: BackupsConfig::default(),
            routing: Vec::new(),
            oci: OciConfig::default(),
            security: SecurityConfig::default(),
            host: HostConfig::default(),
            proxmox: None,
            metrics: MetricsConfig::default(),
            alerts: AlertsConfig::default(),
            server: ServerConfig::default(),
            rate_limits: RateLimitsConfig::default(),
            log: LogConfig::default(),
            testing: TestingConfig::default(),
        }
    }
}

impl Default for NetworkConfig {
    fn default() -> Self {
        Self {
            bridge: "berth0".into(),
            ipv4: "10.88.0.1/20".into(),
            ipv6: "fd42:88::1/64".into(),
            table: "berth".into(),
            dns: Vec::new(),
            forward_addresses: vec!["0.0.0.0".into(), "::".into()],
            max_forwards_per_user: 256,
        }
    }
}

impl NetworkConfig {
    /// The bridge's subnets, validated together (errors name `network.ipv4` / `network.ipv6`).
    pub fn plan(&self) -> Result<berth_net::NetworkPlan, FieldError> {
        let ipv6 = Some(self.ipv6.as_str()).filter(|v6| !v6.is_empty());
        berth_net::NetworkPlan::parse(&self.ipv4, ipv6)
    }

    /// The addresses ordinary users may forward from, parsed.
    pub fn forward_addresses(&self) -> Result<Vec<IpAddr>, FieldError> {
        self.forward_addresses
            .iter()
            .enumerate()
            .map(|(i, raw)| {
                raw.parse().map_err(|_| {
                    FieldError::new(
                        format!("network.forward_addresses[{i}]"),
                        format!("{raw:?} is not an IP address"),
                    )
                })
            })
            .collect()
    }

    /// The configured name servers, parsed.
    pub fn dns_servers(&self) -> Result<Vec<IpAddr>, FieldError> {
        self.dns
            .iter()
            .enumerate()
            .map(|(i, raw)| {
                raw.parse().map_err(|_| {
                    FieldError::new(
                        format!("network.dns[{i}]"),
                        format!("{raw:?} is not an IP address"),
                    )
                })
            })
            .collect()
    }
}

impl Config {
    /// Loads `path` (a missing default file means defaults), applies `BERTH_*` overrides from
    /// `env`, and validates.
    pub fn load(
        path: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let (text, origin) = match path {
            Some(path) => (read(path)?, path.display().to_string()),
            None => match std::fs::read_to_string(DEFAULT_CONFIG_PATH) {
                Ok(text) => (text, DEFAULT_CONFIG_PATH.to_owned()),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    (String::new(), "defaults".to_owned())
                }
                Err(source) => {
                    return Err(ConfigError::Read {
                        path: DEFAULT_CONFIG_PATH.into(),
                        source,
                    });
                }
            },
        };
        let invalid = |origin: &str, message: String| ConfigError::Invalid {
            origin: origin.to_owned(),
            message,
        };
        let mut table: toml::Table = text
            .parse()
            .map_err(|e: toml::de::Error| invalid(&origin, e.to_string()))?;
        for (key, value) in env {
            let Some(rest) = key.strip_prefix("BERTH_") else {
                continue;
            };
            if NOT_CONFIG_VARS.contains(&key.as_str()) {
                continue;
            }
            let path: Vec<String> = rest
                .split("__")
                .map(|part| part.to_ascii_lowercase())
                .collect();
            set_path(&mut table, &path, parse_env_value(&value)).map_err(|m| invalid(&key, m))?;
        }
        let config: Config = toml::Value::Table(table)
            .try_into()
            .map_err(|e: toml::de::Error| invalid(&origin, e.message().to_owned()))?;
        config.validate().map_err(|m| invalid(&origin, m))?;
        Ok(config)
    }

    fn validate(&self) -> Result<(), String> {
        let listeners = self.listeners()?;
        let tls = self.tls_source()?;
        if tls.is_none()
            && let Some(https) = listeners.iter().find(|l| l.tls)
        {
            return Err(format!(
                "listen: {https} needs a certificate; set tls = \"self-signed\" or tls_cert and tls_key"
            ));
        }
        self.storage.validate()?;
        berth_types::units::parse_bytes(&self.backups.max_import, "backups.max_import")
            .map_err(|e| e.to_string())?;
        if self.backups.keep == 0 {
            return Err(
                "backups.keep: 0 would delete every backup as it is made; use 1 or more".into(),
            );
        }
        self.images.validate()?;
        if berth_runtime::oci::OciTool::parse(&self.oci.runtime).is_none() {
            return Err(format!(
                "oci.runtime: {:?} is unknown; use auto, crun or runc",
                self.oci.runtime
            ));
        }
        let known = |b: &BackendName| {
            KNOWN_BACKENDS.contains(&b.as_str())
                || (b.as_str() == "sim" && self.testing.sim_backend)
        };
        if !known(&self.default_backend) {
            return Err(format!(
                "default_backend: {:?} is unknown; use one of {}",
                self.default_backend.as_str(),
                KNOWN_BACKENDS.join(", ")
            ));
        }
        for (i, rule) in self.routing.iter().enumerate() {
            if !known(&rule.backend) {
                return Err(format!(
                    "routing[{i}].backend: {:?} is unknown; use one of {}",
                    rule.backend.as_str(),
                    KNOWN_BACKENDS.join(", ")
                ));
            }
        }
        self.security.pool()?;
        self.network.plan().map_err(|e| e.to_string())?;
        self.network.dns_servers().map_err(|e| e.to_string())?;
        self.network
            .forward_addresses()
            .map_err(|e| e.to_string())?;
        self.server.validate()?;
        self.auth.validate()?;
        self.rate_limits.validate()?;
        self.log.validate()?;
        let table = &self.network.table;
        if table.is_empty()
            || table.len() > 32
            || !table
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_')
        {
            return Err(format!(
                "network.table: {table:?} is not 1-32 characters of [A-Za-z0-9_]"
            ));
        }
        if !berth_net::bridge::valid_ifname(&self.network.bridge) {
            return Err(format!(
                "network.bridge: {:?} is not an interface name (1-15 characters of [A-Za-z0-9_.-])",
                self.network.bridge
            ));
        }
        if let Some(proxmox) = &self.proxmox {
            proxmox.settings()?;
        }
        self.metrics.interval_seconds()?;
        self.metrics.disk_interval_seconds()?;
        if let Some(smtp) = &self.alerts.smtp {
            smtp.settings()?;
        }
        if !self.data_dir.is_absolute() {
            return Err(format!(
                "data_dir: {} must be an absolute path",
                self.data_dir.display()
            ));
        }
        Ok(())
    }

    /// The TCP listeners, parsed.
    pub fn listeners(&self) -> Result<Vec<ListenAddr>, String> {
        self.listen.iter().map(|l| ListenAddr::parse(l)).collect()
    }

    /// Where the HTTPS certificate comes from; `None` when none is configured.
    pub fn tls_source(&self) -> Result<Option<TlsSource>, String> {
        match (self.tls.as_str(), &self.tls_cert, &self.tls_key) {
            ("", None, None) => Ok(None),
            ("self-signed", None, None) => Ok(Some(TlsSource::SelfSigned)),
            ("", Some(cert), Some(key)) => Ok(Some(TlsSource::Files {
                cert: cert.clone(),
                key: key.clone(),
            })),
            ("", Some(_), None) => Err("tls_key: is required with tls_cert".into()),
            ("", None, Some(_)) => Err("tls_cert: is required with tls_key".into()),
            ("self-signed", _, _) => {
                Err("tls: \"self-signed\" and tls_cert/tls_key exclude each other; keep one".into())
            }
            (other, _, _) => Err(format!(
                "tls: {other:?} is unknown; use \"self-signed\", or tls_cert and tls_key"
            )),
        }
    }

    pub fn image_cache_dir(&self) -> PathBuf {
        self.images
            .cache_dir
            .clone()
            .unwrap_or_else(|| self.data_dir.join("images"))
    }

    pub fn database_path(&self) -> PathBuf {
        self.data_dir.join("berth.db")
    }
}

fn read(path: &Path) -> Result<String, ConfigError> {
    std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_owned(),
        source,
    })
}

/// An env value is read as TOML when it parses as a value (`true`, `3`, `["a"]`), else as a string.
fn parse_env_value(raw: &str) -> toml::Value {
    format!("v = {raw}")
        .parse::<toml::Table>()
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(raw.to_owned()))
}

fn set_path(table: &mut toml::Table, path: &[String], value: toml::Value) -> Result<(), String> {
    match path {
        [] => Err("empty key".into()),
        [last] => {
            table.insert(last.clone(), value);
            Ok(())
        }
        [first, rest @ ..] => {
            let entry = table
                .entry(first.clone())
                .or_insert_with(|| toml::Value::Table(toml::Table::new()));
            match entry {
                toml::Value::Table(inner) => set_path(inner, rest, value),
                _ => Err(format!("{first} is not a section")),
            }
        }
    }
}

#[cfg(test)]
mod tests;
