//! Alert webhooks: a JSON POST to a plain `http://` URL (hyper over a tokio TCP stream).

use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;

/// A parsed webhook URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub authority: String,
    pub path: String,
}

/// Parses `http://host[:port][/path]`; the message says what is wrong.
pub fn parse(url: &str) -> Result<Target, String> {
    let rest = url.strip_prefix("http://").ok_or_else(|| {
        format!(
            "{url:?} is not an http:// URL (https webhooks are not supported; use a local relay)"
        )
    })?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    if authority.is_empty() || authority.contains('@') || url.len() > 2000 {
        return Err(format!("{url:?} has no host (or has credentials in it)"));
    }
    let authority = if authority
        .rsplit_once(':')
        .is_some_and(|(_, p)| p.parse::<u16>().is_ok())
    {
        authority.to_owned()
    } else {
        format!("{authority}:80")
    };
    Ok(Target {
        authority,
        path: path.to_owned(),
    })
}

#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    #[error("{0}")]
    Url(String),
    #[error("connecting to {0}: {1}")]
    Connect(String, std::io::Error),
    #[error("{0} did not answer within 10 s")]
    Timeout(String),
    #[error("HTTP: {0}")]
    Http(#[from] hyper::Error),
    #[error("building the request: {0}")]
    Request(#[from] hyper::http::Error),
    #[error("{url} answered {status}")]
    Status { url: String, status: u16 },
}

/// POSTs `body` as JSON to `url`; any 2xx is success.
pub async fn post(url: &str, body: &serde_json::Value) -> Result<(), WebhookError> {
    let target = parse(url).map_err(WebhookError::Url)?;
    tokio::time::timeout(Duration::from_secs(10), send(url, &target, body))
        .await
        .map_err(|_| WebhookError::Timeout(url.to_owned()))?
}

async fn send(url: &str, target: &Target, body: &serde_json::Value) -> Result<(), WebhookError> {
    let stream = tokio::net::TcpStream::connect(&target.authority)
        .await
        .map_err(|e| WebhookError::Connect(target.authority.clone(), e))?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    let request = Request::post(&target.path)
        .header("host", &target.authority)
        .header("content-type", "application/json")
        .header("user-agent", concat!("berth/", env!("CARGO_PKG_VERSION")))
        .body(Full::new(Bytes::from(body.to_string())))?;
    let response = sender.send_request(request).await?;
    let status = response.status();
    let _ = response.into_body().collect().await;
    if !status.is_success() {
        return Err(WebhookError::Status {
            url: url.to_owned(),
            status: status.as_u16(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        assert_eq!(
            parse("http://127.0.0.1:9000/hook"),
            Ok(Target {
                authority: "127.0.0.1:9000".into(),
                path: "/hook".into()
            })
        );
        assert_eq!(
            parse("http://example.com").map(|t| t.authority),
            Ok("example.com:80".into())
        );
        assert!(parse("https://example.com/").is_err());
        assert!(parse("http:///x").is_err());
        assert!(parse("http://u:p@h/").is_err());
    }
}
