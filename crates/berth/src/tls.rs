//! HTTPS to a remote berthd: the server's certificate is trusted only when its SHA-256
//! fingerprint is the one pinned for that remote (`berth login` saves it), as Incus and
//! Proxmox clients pin self-signed certificates.

use std::sync::{Arc, Mutex};

use anyhow::{Context, bail};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use sha2::{Digest, Sha256};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

/// `AB:CD:…`: SHA-256 of a certificate's DER, as berthd logs it.
pub fn fingerprint(cert: &[u8]) -> String {
    Sha256::digest(cert)
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// A fingerprint as a user may type it (any case, with or without colons), normalised; `None`
/// when it is not 32 bytes of hex.
pub fn normalise(text: &str) -> Option<String> {
    let hex: String = text.chars().filter(|c| *c != ':').collect();
    if hex.len() != 64 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    let upper = hex.to_ascii_uppercase();
    let pairs: Vec<&str> = (0..32).map(|i| &upper[i * 2..i * 2 + 2]).collect();
    Some(pairs.join(":"))
}

/// Accepts exactly one certificate, by fingerprint; with `None` it accepts any and remembers
/// what it saw (only for `berth login` to show the fingerprint before anything is sent).
#[derive(Debug)]
struct Pinned {
    expected: Option<String>,
    seen: Mutex<Option<String>>,
    schemes: Vec<SignatureScheme>,
}

impl ServerCertVerifier for Pinned {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let seen = fingerprint(end_entity);
        *self.seen.lock().unwrap_or_else(|p| p.into_inner()) = Some(seen.clone());
        match &self.expected {
            Some(expected) if *expected != seen => Err(rustls::Error::General(format!(
                "the server's certificate fingerprint is {seen}, not the pinned {expected}"
            ))),
            _ => Ok(ServerCertVerified::assertion()),
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &provider().signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &provider().signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.schemes.clone()
    }
}

fn provider() -> rustls::crypto::CryptoProvider {
    rustls::crypto::ring::default_provider()
}

fn connector(verifier: Arc<Pinned>) -> anyhow::Result<TlsConnector> {
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(provider()))
        .with_safe_default_protocol_versions()?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    Ok(TlsConnector::from(Arc::new(config)))
}

fn pinned(expected: Option<String>) -> Arc<Pinned> {
    Arc::new(Pinned {
        expected,
        seen: Mutex::new(None),
        schemes: provider()
            .signature_verification_algorithms
            .supported_schemes(),
    })
}

fn server_name(authority: &str) -> anyhow::Result<ServerName<'static>> {
    let host = match authority.rsplit_once(':') {
        Some((host, _port)) => host.trim_start_matches('[').trim_end_matches(']'),
        None => authority,
    };
    ServerName::try_from(host.to_owned())
        .with_context(|| format!("remote {authority:?}: not a host name or address"))
}

/// Connects to `authority` and completes a TLS handshake that only the pinned certificate
/// passes.
pub async fn connect(authority: &str, fingerprint: &str) -> anyhow::Result<TlsStream<TcpStream>> {
    let tcp = TcpStream::connect(authority)
        .await
        .with_context(|| format!("cannot reach berthd at {authority}"))?;
    connector(pinned(Some(fingerprint.to_owned())))?
        .connect(server_name(authority)?, tcp)
        .await
        .with_context(|| format!("TLS with berthd at {authority}"))
}

/// The fingerprint of the certificate `authority` presents (nothing is sent after the
/// handshake).
pub async fn probe(authority: &str) -> anyhow::Result<String> {
    let tcp = TcpStream::connect(authority)
        .await
        .with_context(|| format!("cannot reach berthd at {authority}"))?;
    let verifier = pinned(None);
    connector(verifier.clone())?
        .connect(server_name(authority)?, tcp)
        .await
        .with_context(|| format!("TLS with berthd at {authority}"))?;
    let seen = verifier
        .seen
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    match seen {
        Some(seen) => Ok(seen),
        None => bail!("berthd at {authority} presented no certificate"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_are_normalised() {
        let fp = fingerprint(b"certificate");
        assert_eq!(normalise(&fp.to_lowercase()), Some(fp.clone()));
        assert_eq!(normalise(&fp.replace(':', "")), Some(fp));
        assert_eq!(normalise("AB:CD"), None);
        assert_eq!(normalise(&"zz".repeat(32)), None);
    }
}
