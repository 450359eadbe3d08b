//! A small HTTP client for the Berth API, over the local unix socket or a remote TCP address.

use std::path::PathBuf;

use anyhow::{Context, bail};
use berth_types::api::ErrorBody;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::header::{AUTHORIZATION, CONTENT_TYPE, HOST, HeaderMap};
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::net::{TcpStream, UnixStream};

pub const DEFAULT_SOCKET: &str = "/run/berth/berth.sock";

/// Where the daemon is.
#[derive(Debug, Clone)]
pub enum Endpoint {
    Socket(PathBuf),
    /// An `http://` or `https://` remote, with its token.
    Remote {
        /// `HOST:PORT`.
        authority: String,
        /// The pinned certificate fingerprint of an `https://` remote; `None` for `http://`.
        tls: Option<String>,
        token: Option<String>,
    },
}

/// A connected byte stream to berthd: the unix socket, TCP, or TLS over TCP.
pub trait Connection: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send {}
impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send> Connection for T {}

#[derive(Debug, Clone)]
pub struct Client {
    endpoint: Endpoint,
}

/// An error answer from the daemon, shown as its message (and field).
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct ApiFailure {
    pub status: StatusCode,
    pub code: String,
    pub message: String,
}

/// `HOST:PORT` of a remote URL and whether it is `https://`.
pub fn parse_remote(url: &str) -> anyhow::Result<(String, bool)> {
    let (rest, https) = if let Some(rest) = url.strip_prefix("https://") {
        (rest, true)
    } else if let Some(rest) = url.strip_prefix("http://") {
        (rest, false)
    } else {
        bail!("remote {url:?}: give http://HOST:PORT or https://HOST:PORT");
    };
    let authority = rest.trim_end_matches('/');
    if authority.is_empty() || authority.contains('/') {
        bail!("remote {url:?}: give http://HOST:PORT or https://HOST:PORT, without a path");
    }
    let authority = if authority
        .rsplit_once(':')
        .is_some_and(|(_, port)| port.parse::<u16>().is_ok())
        && !authority.ends_with(']')
    {
        authority.to_owned()
    } else {
        format!("{authority}:{}", if https { 8443 } else { 8440 })
    };
    Ok((authority, https))
}

impl Client {
    /// The daemon to talk to: `--socket` when given; else `--remote` (its token and pinned
    /// fingerprint from `berth login` unless `--token` is given); else the remote saved as
    /// the default by `berth login`; else the local socket.
    pub fn new(
        socket: Option<PathBuf>,
        remote: Option<String>,
        token: Option<String>,
    ) -> anyhow::Result<Self> {
        if let Some(socket) = socket {
            return Ok(Self {
                endpoint: Endpoint::Socket(socket),
            });
        }
        let saved = crate::remotes::Remotes::load()?;
        let Some(url) = remote.or_else(|| saved.default.clone()) else {
            return Ok(Self {
                endpoint: Endpoint::Socket(DEFAULT_SOCKET.into()),
            });
        };
        let url = crate::remotes::key(&url);
        let entry = saved.get(&url);
        let (authority, https) = parse_remote(&url)?;
        let tls = if https {
            match entry.and_then(|e| e.fingerprint.clone()) {
                Some(fingerprint) => Some(fingerprint),
                None => bail!("remote {url}: no pinned certificate; run `berth login {url}` first"),
            }
        } else {
            None
        };
        let token = token.or_else(|| entry.map(|e| e.token.clone()));
        Ok(Self::remote(authority, tls, token))
    }

    /// A remote at `authority`, over TLS pinned to `tls` when given.
    pub fn remote(authority: String, tls: Option<String>, token: Option<String>) -> Self {
        Self {
            endpoint: Endpoint::Remote {
                authority,
                tls,
                token,
            },
        }
    }

    /// Opens a connection to the daemon, and says what to put in `Host` and `Authorization`.
    pub async fn connect(&self) -> anyhow::Result<(Box<dyn Connection>, String, Option<String>)> {
        match &self.endpoint {
            Endpoint::Socket(socket) => {
                let stream = UnixStream::connect(socket).await.with_context(|| {
                    format!("cannot reach berthd at {}: is it running? (start it with scripts/setup.sh)", socket.display())
                })?;
                Ok((Box::new(stream), "localhost".to_owned(), None))
            }
            Endpoint::Remote {
                authority,
                tls,
                token,
            } => {
                let stream: Box<dyn Connection> = match tls {
                    Some(fingerprint) => {
                        Box::new(crate::tls::connect(authority, fingerprint).await?)
                    }
                    None => Box::new(
                        TcpStream::connect(authority.as_str())
                            .await
                            .with_context(|| format!("cannot reach berthd at {authority}"))?,
                    ),
                };
                Ok((stream, authority.clone(), token.clone()))
            }
        }
    }

    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> anyhow::Result<T> {
        self.call(Method::GET, path, None::<&()>).await
    }

    pub async fn post<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> anyhow::Result<T> {
        self.call(Method::POST, path, Some(body)).await
    }

    pub async fn delete<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> anyhow::Result<T> {
        self.call(Method::DELETE, path, Some(body)).await
    }

    pub async fn put<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> anyhow::Result<T> {
        self.call(Method::PUT, path, Some(body)).await
    }

    pub async fn patch<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> anyhow::Result<T> {
        self.call(Method::PATCH, path, Some(body)).await
    }

    /// Sends one request to `/api/v1{path}` and decodes the answer (an empty answer decodes as `null`).
    pub async fn call<B: Serialize, T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&B>,
    ) -> anyhow::Result<T> {
        let body = match body {
            Some(body) => Bytes::from(serde_json::to_vec(body)?),
            None => Bytes::new(),
        };
        let (status, _, bytes) = self.raw(method, path, "application/json", body).await?;
        let bytes = if bytes.is_empty() {
            Bytes::from_static(b"null")
        } else {
            bytes
        };
        serde_json::from_slice(&bytes)
            .with_context(|| format!("berthd sent an answer this berth cannot read ({status})"))
    }

    /// Sends `body` as it is to `/api/v1{path}`; a non-2xx answer becomes an [`ApiFailure`].
    pub async fn raw(
        &self,
        method: Method,
        path: &str,
        content_type: &str,
        body: Bytes,
    ) -> anyhow::Result<(StatusCode, HeaderMap, Bytes)> {
        let mut request = Request::builder()
            .method(method)
            .uri(format!("/api/v1{path}"))
            .header(CONTENT_TYPE, content_type);
        let (stream, host, token) = self.connect().await?;
        request = request.header(HOST, host);
        if let Some(token) = token {
            request = request.header(AUTHORIZATION, format!("Bearer {token}"));
        }
        let (status, headers, bytes) =
            send(TokioIo::new(stream), request.body(Full::new(body))?).await?;
        if !status.is_success() {
            let (code, message) = match serde_json::from_slice::<ErrorBody>(&bytes) {
                Ok(err) => {
                    let message = match err.error.field {
                        Some(field) if !err.error.message.contains(&field) => {
                            format!("{field}: {}", err.error.message)
                        }
                        _ => err.error.message,
                    };
                    (err.error.code, message)
                }
                Err(_) => (
                    "http".to_owned(),
                    format!(
                        "berthd answered {status}: {}",
                        String::from_utf8_lossy(&bytes)
                    ),
                ),
            };
            return Err(ApiFailure {
                status,
                code,
                message,
            }
            .into());
        }
        Ok((status, headers, bytes))
    }
}

async fn send<I>(
    io: I,
    request: Request<Full<Bytes>>,
) -> anyhow::Result<(StatusCode, HeaderMap, Bytes)>
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let (mut sender, connection) = hyper::client::conn::http1::handshake(io).await?;
    tokio::spawn(connection);
    let response = sender.send_request(request).await?;
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response.into_body().collect().await?.to_bytes();
    if status == StatusCode::SWITCHING_PROTOCOLS {
        bail!("unexpected protocol switch");
    }
    Ok((status, headers, bytes))
}

/// Percent-encodes a query value.
pub fn query_value(raw: &str) -> String {
    raw.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}
