//! A minimal HTTP(S) GET for image servers: one connection per request, a deadline for the
//! answer's head, the body streamed to the caller with a byte limit. HTTPS trusts the host's
//! CA bundle (`/etc/ssl/certs/ca-certificates.crt`); redirects are not followed (an image
//! server's URL is configured, not discovered).

use std::sync::Arc;
use std::time::Duration;

use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncRead, AsyncWrite};

use super::StreamsError;

/// The host's CA bundle (Debian's ca-certificates).
const CA_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";
/// How long a server may take to connect and send the head of its answer.
const HEAD_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a server may pause while sending a body.
const BODY_TIMEOUT: Duration = Duration::from_secs(60);

/// A parsed `http://` or `https://` URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Url {
    pub tls: bool,
    pub host: String,
    pub port: u16,
    /// Starts with `/`.
    pub path: String,
}

impl Url {
    pub fn parse(raw: &str) -> Option<Self> {
        let (tls, rest) = if let Some(rest) = raw.strip_prefix("https://") {
            (true, rest)
        } else {
            (false, raw.strip_prefix("http://")?)
        };
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        if authority.is_empty() || authority.contains('@') || path.contains(['?', '#']) {
            return None;
        }
        let default = if tls { 443 } else { 80 };
        let (host, port) = if let Some(rest) = authority.strip_prefix('[') {
            let (host, tail) = rest.split_once(']')?;
            match tail.strip_prefix(':') {
                Some(port) => (host, port.parse().ok()?),
                None if tail.is_empty() => (host, default),
                None => return None,
            }
        } else {
            match authority.rsplit_once(':') {
                Some((host, port)) => (host, port.parse().ok()?),
                None => (authority, default),
            }
        };
        if host.is_empty() {
            return None;
        }
        Some(Self {
            tls,
            host: host.to_owned(),
            port,
            path: path.to_owned(),
        })
    }
}

trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

async fn connect(url: &Url, shown: &str) -> Result<Box<dyn Stream>, StreamsError> {
    let fail = |why: String| StreamsError::Http {
        url: shown.to_owned(),
        why,
    };
    let tcp = tokio::net::TcpStream::connect((url.host.as_str(), url.port))
        .await
        .map_err(|e| fail(format!("connecting: {e}")))?;
    if !url.tls {
        return Ok(Box::new(tcp));
    }
    let connector = tokio_rustls::TlsConnector::from(tls_config().map_err(fail)?);
    let name = ServerName::try_from(url.host.clone()).map_err(|e| fail(e.to_string()))?;
    let tls = connector
        .connect(name, tcp)
        .await
        .map_err(|e| fail(format!("TLS: {e}")))?;
    Ok(Box::new(tls))
}

fn tls_config() -> Result<Arc<rustls::ClientConfig>, String> {
    let mut roots = rustls::RootCertStore::empty();
    let certs = CertificateDer::pem_file_iter(CA_BUNDLE)
        .and_then(|iter| iter.collect::<Result<Vec<_>, _>>())
        .map_err(|e| format!("{CA_BUNDLE}: {e} (apt install ca-certificates)"))?;
    roots.add_parsable_certificates(certs);
    let config = rustls::ClientConfig::builder_with_provider(berth_tls::provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// GETs `raw_url` and hands each chunk of the body to `sink`; more than `limit` bytes is
/// [`StreamsError::TooBig`]. Returns the number of bytes received.
pub async fn get(
    raw_url: &str,
    limit: u64,
    mut sink: impl FnMut(&[u8]) -> Result<(), StreamsError>,
) -> Result<u64, StreamsError> {
    let fail = |why: String| StreamsError::Http {
        url: raw_url.to_owned(),
        why,
    };
    let url = Url::parse(raw_url).ok_or_else(|| fail("not an http:// or https:// URL".into()))?;
    let head = async {
        let stream = connect(&url, raw_url).await?;
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| fail(format!("HTTP handshake: {e}")))?;
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, "image server connection ended");
            }
        });
        let host = if url.port == if url.tls { 443 } else { 80 } {
            url.host.clone()
        } else {
            format!("{}:{}", url.host, url.port)
        };
        let request = hyper::Request::get(url.path.as_str())
            .header("host", host)
            .header("user-agent", concat!("berth/", env!("CARGO_PKG_VERSION")))
            .body(Empty::<Bytes>::new())
            .map_err(|e| fail(e.to_string()))?;
        sender
            .send_request(request)
            .await
            .map_err(|e| fail(e.to_string()))
    };
    let response = tokio::time::timeout(HEAD_TIMEOUT, head)
        .await
        .map_err(|_| fail(format!("no answer in {}s", HEAD_TIMEOUT.as_secs())))??;
    if !response.status().is_success() {
        return Err(StreamsError::Status {
            url: raw_url.to_owned(),
            status: response.status().as_u16(),
        });
    }
    let mut body = response.into_body();
    let mut received = 0u64;
    loop {
        let frame = tokio::time::timeout(BODY_TIMEOUT, body.frame())
            .await
            .map_err(|_| fail(format!("stalled for {}s", BODY_TIMEOUT.as_secs())))?;
        let Some(frame) = frame else { break };
        let frame = frame.map_err(|e| fail(format!("reading: {e}")))?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        received += data.len() as u64;
        if received > limit {
            return Err(StreamsError::TooBig {
                url: raw_url.to_owned(),
                limit,
            });
        }
        sink(&data)?;
    }
    Ok(received)
}

/// The whole body of `url`, at most `limit` bytes.
pub async fn get_bytes(url: &str, limit: u64) -> Result<Vec<u8>, StreamsError> {
    let mut out = Vec::new();
    get(url, limit, |chunk| {
        out.extend_from_slice(chunk);
        Ok(())
    })
    .await?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_parse() {
        let u = Url::parse("https://images.linuxcontainers.org").expect("url");
        assert_eq!(
            (u.tls, u.host.as_str(), u.port, u.path.as_str()),
            (true, "images.linuxcontainers.org", 443, "/")
        );
        let u = Url::parse("http://127.0.0.1:8080/base/streams").expect("url");
        assert_eq!((u.port, u.path.as_str()), (8080, "/base/streams"));
        assert!(Url::parse("ftp://x").is_none());
        assert!(Url::parse("http://user@x/").is_none());
        assert!(Url::parse("http:///x").is_none());
    }
}
