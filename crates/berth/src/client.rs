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
    /// `host:port` of an `http://` remote, with its token.
    Remote {
        authority: String,
        token: Option<String>,
    },
}

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

impl Client {
    pub fn new(
        socket: Option<PathBuf>,
        remote: Option<String>,
        token: Option<String>,
    ) -> anyhow::Result<Self> {
        let endpoint = match remote {
            Some(url) => {
                let authority = url
                    .strip_prefix("http://")
                    .with_context(|| {
                        format!("remote {url:?}: only http:// remotes are supported so far")
                    })?
                    .trim_end_matches('/')
                    .to_owned();
                Endpoint::Remote { authority, token }
            }
            None => Endpoint::Socket(socket.unwrap_or_else(|| DEFAULT_SOCKET.into())),
        };
        Ok(Self { endpoint })
    }

    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
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
        let (status, headers, bytes) = match &self.endpoint {
            Endpoint::Socket(socket) => {
                let stream = UnixStream::connect(socket).await.with_context(|| {
                    format!("cannot reach berthd at {}: is it running? (start it with scripts/setup.sh)", socket.display())
                })?;
                request = request.header(HOST, "localhost");
                send(TokioIo::new(stream), request.body(Full::new(body))?).await?
            }
            Endpoint::Remote { authority, token } => {
                let stream = TcpStream::connect(authority.as_str())
                    .await
                    .with_context(|| format!("cannot reach berthd at {authority}"))?;
                request = request.header(HOST, authority.as_str());
                if let Some(token) = token {
                    request = request.header(AUTHORIZATION, format!("Bearer {token}"));
                }
                send(TokioIo::new(stream), request.body(Full::new(body))?).await?
            }
        };
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
