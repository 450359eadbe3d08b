//! An HTTPS client for the Proxmox VE API: `PVEAPIToken` authentication, a pinned certificate
//! (or a CA), one connection per call with a deadline, and errors that name the endpoint and
//! PVE's own message.

mod api;
mod console;
mod task;
pub mod tls;

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use serde_json::Value;

pub use api::{
    ClusterMember, ClusterResource, ContainerStatus, CreateContainer, LogLine, RrdPoint, Snapshot,
    TaskStatus, TemplateVolume, TermProxy,
};
pub use console::Terminal;
pub use task::TaskProgress;
pub use tls::Trust;

/// Where and how to reach PVE.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// `https://host:8006` (the port defaults to 8006).
    pub url: String,
    /// `USER@REALM!TOKENID`.
    pub token_id: String,
    pub token_secret: Secret,
    pub trust: Trust,
    /// Deadline for one call, connection and answer included.
    pub timeout: Duration,
}

/// A secret that never shows in `Debug` or logs.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ProxmoxError {
    #[error("proxmox configuration: {0}")]
    Config(String),
    /// Not answering at all: refused, reset, timed out. Reads may be served from cache.
    #[error("proxmox at {url}: unreachable ({cause})")]
    Unreachable { url: String, cause: String },
    #[error("proxmox at {url}: TLS refused ({cause}); check proxmox.fingerprint")]
    Untrusted { url: String, cause: String },
    #[error(
        "proxmox {endpoint}: token refused ({message}); check proxmox.token_id and token_secret, and that the token has not expired"
    )]
    Unauthorized { endpoint: String, message: String },
    #[error("proxmox {endpoint}: {status} {message}{}", params_suffix(.errors))]
    Api {
        endpoint: String,
        status: u16,
        message: String,
        errors: BTreeMap<String, String>,
    },
    #[error("proxmox {endpoint}: unexpected answer ({cause})")]
    Decode { endpoint: String, cause: String },
    #[error("proxmox task {upid} failed: {exitstatus}")]
    TaskFailed { upid: String, exitstatus: String },
}

fn params_suffix(errors: &BTreeMap<String, String>) -> String {
    if errors.is_empty() {
        return String::new();
    }
    let parts: Vec<String> = errors
        .iter()
        .map(|(k, v)| format!("{k}: {}", v.trim_end()))
        .collect();
    format!(" ({})", parts.join("; "))
}

impl ProxmoxError {
    /// Whether PVE did not answer (as opposed to answering with an error).
    pub fn is_unreachable(&self) -> bool {
        matches!(self, Self::Unreachable { .. })
    }
    /// Whether PVE answered that the thing does not exist.
    pub fn is_not_found(&self) -> bool {
        match self {
            Self::Api {
                status, message, ..
            } => *status == 404 || message.contains("does not exist"),
            _ => false,
        }
    }
}

#[derive(Clone)]
pub struct Client {
    config: ClientConfig,
    host: String,
    port: u16,
    base_path: String,
    tls: tokio_rustls::TlsConnector,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("url", &self.config.url)
            .field("token_id", &self.config.token_id)
            .finish_non_exhaustive()
    }
}

impl Client {
    pub fn new(config: ClientConfig) -> Result<Self, ProxmoxError> {
        let rest = config.url.strip_prefix("https://").ok_or_else(|| {
            ProxmoxError::Config(format!(
                "proxmox.url {:?} must start with https://",
                config.url
            ))
        })?;
        let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
        let (host, port) = split_host_port(authority).ok_or_else(|| {
            ProxmoxError::Config(format!("proxmox.url {:?}: bad host or port", config.url))
        })?;
        if !config.token_id.contains('@') || !config.token_id.contains('!') {
            return Err(ProxmoxError::Config(format!(
                "proxmox.token_id {:?} must look like USER@REALM!TOKENID",
                config.token_id
            )));
        }
        let tls = tokio_rustls::TlsConnector::from(tls::client_config(&config.trust)?);
        Ok(Self {
            host,
            port,
            base_path: format!("/{}", path.trim_matches('/'))
                .trim_end_matches('/')
                .to_owned(),
            tls,
            config,
        })
    }

    pub fn url(&self) -> &str {
        &self.config.url
    }

    pub fn token_id(&self) -> &str {
        &self.config.token_id
    }

    /// Calls `method path` (below `/api2/json`) and returns PVE's `data`.
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        params: &[(&str, String)],
    ) -> Result<Value, ProxmoxError> {
        let endpoint = format!("{method} {path}");
        let deadline = self.config.timeout;
        match tokio::time::timeout(deadline, self.exchange(method, path, params, &endpoint)).await {
            Ok(result) => result,
            Err(_) => Err(self.unreachable(format!(
                "no answer to {endpoint} within {} ms",
                deadline.as_millis()
            ))),
        }
    }

    async fn exchange(
        &self,
        method: &str,
        path: &str,
        params: &[(&str, String)],
        endpoint: &str,
    ) -> Result<Value, ProxmoxError> {
        let encoded = {
            let mut form = form_urlencoded::Serializer::new(String::new());
            for (k, v) in params {
                form.append_pair(k, v);
            }
            form.finish()
        };
        let has_body = matches!(method, "POST" | "PUT");
        let mut uri = format!("{}/api2/json{path}", self.base_path);
        if !has_body && !encoded.is_empty() {
            uri = format!("{uri}?{encoded}");
        }
        let stream = self.connect().await?;
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| self.unreachable(format!("HTTP handshake: {e}")))?;
        tokio::spawn(async move {
            if let Err(err) = connection.await {
                tracing::debug!(error = %err, "proxmox connection ended");
            }
        });
        let body = if has_body { encoded } else { String::new() };
        let request = hyper::Request::builder()
            .method(method)
            .uri(uri)
            .header("host", format!("{}:{}", self.host, self.port))
            .header("authorization", self.authorization())
            .header("content-type", "application/x-www-form-urlencoded")
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| ProxmoxError::Config(format!("building {endpoint}: {e}")))?;
        tracing::debug!(endpoint, "proxmox call");
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| self.unreachable(format!("{endpoint}: {e}")))?;
        let status = response.status();
        let reason = response
            .extensions()
            .get::<hyper::ext::ReasonPhrase>()
            .map(|r| String::from_utf8_lossy(r.as_bytes()).into_owned())
            .or_else(|| status.canonical_reason().map(str::to_owned))
            .unwrap_or_default();
        let bytes = response
            .into_body()
            .collect()
            .await
            .map_err(|e| self.unreachable(format!("{endpoint}: reading the answer: {e}")))?
            .to_bytes();
        let json: Value = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).map_err(|e| ProxmoxError::Decode {
                endpoint: endpoint.to_owned(),
                cause: format!("{status}: not JSON: {e}"),
            })?
        };
        let message = json
            .get("message")
            .and_then(Value::as_str)
            .map(|m| m.trim_end().to_owned())
            .unwrap_or_else(|| reason.trim_end_matches('.').to_owned());
        if status.as_u16() == 401 {
            return Err(ProxmoxError::Unauthorized {
                endpoint: endpoint.to_owned(),
                message,
            });
        }
        if !status.is_success() {
            let errors = json
                .get("errors")
                .and_then(Value::as_object)
                .map(|m| {
                    m.iter()
                        .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
                        .collect()
                })
                .unwrap_or_default();
            return Err(ProxmoxError::Api {
                endpoint: endpoint.to_owned(),
                status: status.as_u16(),
                message,
                errors,
            });
        }
        Ok(json.get("data").cloned().unwrap_or(Value::Null))
    }

    /// A TLS connection to the node, its certificate checked.
    async fn connect(
        &self,
    ) -> Result<tokio_rustls::client::TlsStream<tokio::net::TcpStream>, ProxmoxError> {
        let tcp = tokio::net::TcpStream::connect((self.host.as_str(), self.port))
            .await
            .map_err(|e| self.unreachable(format!("connecting: {e}")))?;
        let server_name = ServerName::try_from(self.host.clone())
            .map_err(|e| ProxmoxError::Config(format!("proxmox.url host: {e}")))?;
        self.tls
            .connect(server_name, tcp)
            .await
            .map_err(|e| self.tls_error(e))
    }

    fn authorization(&self) -> String {
        format!(
            "PVEAPIToken={}={}",
            self.config.token_id,
            self.config.token_secret.expose()
        )
    }

    fn unreachable(&self, cause: String) -> ProxmoxError {
        ProxmoxError::Unreachable {
            url: self.config.url.clone(),
            cause,
        }
    }

    fn tls_error(&self, err: std::io::Error) -> ProxmoxError {
        let rustls_error = err
            .get_ref()
            .and_then(|inner| inner.downcast_ref::<rustls::Error>());
        match rustls_error {
            Some(e) => ProxmoxError::Untrusted {
                url: self.config.url.clone(),
                cause: e.to_string(),
            },
            None => self.unreachable(format!("TLS handshake: {err}")),
        }
    }

    /// `call` and decode `data` into `T`.
    pub async fn call_as<T: serde::de::DeserializeOwned>(
        &self,
        method: &str,
        path: &str,
        params: &[(&str, String)],
    ) -> Result<T, ProxmoxError> {
        let data = self.call(method, path, params).await?;
        serde_json::from_value(data).map_err(|e| ProxmoxError::Decode {
            endpoint: format!("{method} {path}"),
            cause: e.to_string(),
        })
    }
}

fn split_host_port(authority: &str) -> Option<(String, u16)> {
    if let Some(rest) = authority.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        let port = match after.strip_prefix(':') {
            Some(p) => p.parse().ok()?,
            None if after.is_empty() => 8006,
            None => return None,
        };
        return Some((host.to_owned(), port));
    }
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) => (h, p.parse().ok()?),
        None => (authority, 8006),
    };
    (!host.is_empty()).then(|| (host.to_owned(), port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_and_port() {
        assert_eq!(split_host_port("pve1:8006"), Some(("pve1".into(), 8006)));
        assert_eq!(split_host_port("pve1"), Some(("pve1".into(), 8006)));
        assert_eq!(split_host_port("[::1]:9"), Some(("::1".into(), 9)));
        assert_eq!(split_host_port(":9"), None);
    }

    #[test]
    fn secret_never_debugs() {
        let s = Secret::new("hunter2-secret");
        assert_eq!(format!("{s:?}"), "<redacted>");
    }
}
