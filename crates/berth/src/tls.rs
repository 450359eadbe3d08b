//! HTTPS to a remote berthd: the server's certificate is trusted only when its SHA-256
//! fingerprint is the one pinned for that remote (`berth login` saves it).

use anyhow::{Context, bail};
use berth_tls::{PinnedVerifier, format_fingerprint, parse_fingerprint, pinned_client_config};
use std::sync::Arc;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;
use tokio_rustls::rustls::pki_types::ServerName;

/// A fingerprint as a user may type it (any case, with or without colons), as `AB:CD:…`;
/// `None` when it is not 32 bytes of hex.
pub fn normalise(text: &str) -> Option<String> {
    parse_fingerprint(text).map(|f| format_fingerprint(&f))
}

fn server_name(authority: &str) -> anyhow::Result<ServerName<'static>> {
    let host = match authority.rsplit_once(':') {
        Some((host, _port)) => host.trim_start_matches('[').trim_end_matches(']'),
        None => authority,
    };
    ServerName::try_from(host.to_owned())
        .with_context(|| format!("remote {authority:?}: not a host name or address"))
}

async fn handshake(
    authority: &str,
    verifier: Arc<PinnedVerifier>,
) -> anyhow::Result<TlsStream<TcpStream>> {
    let tcp = TcpStream::connect(authority)
        .await
        .with_context(|| format!("cannot reach berthd at {authority}"))?;
    TlsConnector::from(pinned_client_config(verifier)?)
        .connect(server_name(authority)?, tcp)
        .await
        .with_context(|| format!("TLS with berthd at {authority}"))
}

/// Connects to `authority` and completes a TLS handshake that only the pinned certificate
/// passes.
pub async fn connect(authority: &str, fingerprint: &str) -> anyhow::Result<TlsStream<TcpStream>> {
    let pin = parse_fingerprint(fingerprint).with_context(|| {
        format!("the saved fingerprint of {authority} is damaged; run `berth login` again")
    })?;
    handshake(authority, PinnedVerifier::new(Some(pin))).await
}

/// The fingerprint of the certificate `authority` presents (nothing is sent after the
/// handshake).
pub async fn probe(authority: &str) -> anyhow::Result<String> {
    let verifier = PinnedVerifier::new(None);
    handshake(authority, verifier.clone()).await?;
    match verifier.seen() {
        Some(seen) => Ok(format_fingerprint(&seen)),
        None => bail!("berthd at {authority} presented no certificate"),
    }
}
