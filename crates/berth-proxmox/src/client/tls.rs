//! How the client trusts a PVE node: exactly one pinned SHA-256 certificate fingerprint (PVE's
//! self-signed certificates), or ordinary verification against a CA file.

use std::sync::Arc;

use berth_tls::{PinnedVerifier, pinned_client_config};
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

use super::ProxmoxError;

pub use berth_tls::{fingerprint_of, format_fingerprint};

/// How to trust the node's certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trust {
    /// SHA-256 of the certificate's DER, as PVE shows it (`AB:CD:…`).
    Fingerprint([u8; 32]),
    /// PEM file with the CA certificates to verify against (hostname checked).
    CaFile(std::path::PathBuf),
}

/// Parses `AB:CD:…` (colons optional, any case) into 32 bytes.
pub fn parse_fingerprint(text: &str) -> Result<[u8; 32], ProxmoxError> {
    berth_tls::parse_fingerprint(text).ok_or_else(|| {
        ProxmoxError::Config(format!(
            "proxmox.fingerprint: {text:?} is not a SHA-256 fingerprint (32 hex pairs, \
             e.g. from `pvenode cert info`)"
        ))
    })
}

/// A rustls client configuration for `trust`.
pub fn client_config(trust: &Trust) -> Result<Arc<rustls::ClientConfig>, ProxmoxError> {
    let tls_error = |e: rustls::Error| ProxmoxError::Config(format!("TLS: {e}"));
    match trust {
        Trust::Fingerprint(pin) => {
            pinned_client_config(PinnedVerifier::new(Some(*pin))).map_err(tls_error)
        }
        Trust::CaFile(path) => {
            let ca_error = |e: &dyn std::fmt::Display| {
                ProxmoxError::Config(format!("proxmox.ca_file {}: {e}", path.display()))
            };
            let mut roots = rustls::RootCertStore::empty();
            let certs = CertificateDer::pem_file_iter(path)
                .and_then(|iter| iter.collect::<Result<Vec<_>, _>>())
                .map_err(|e| ca_error(&e))?;
            for cert in certs {
                roots.add(cert).map_err(|e| ca_error(&e))?;
            }
            let config = rustls::ClientConfig::builder_with_provider(berth_tls::provider())
                .with_safe_default_protocol_versions()
                .map_err(tls_error)?
                .with_root_certificates(roots)
                .with_no_client_auth();
            Ok(Arc::new(config))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_parse_with_or_without_colons() {
        let hex = "AB".repeat(32);
        let colons = vec!["ab"; 32].join(":");
        assert_eq!(
            parse_fingerprint(&hex).expect("plain"),
            parse_fingerprint(&colons).expect("colons")
        );
        assert!(parse_fingerprint("AB:CD").is_err());
        assert!(parse_fingerprint(&"ZZ".repeat(32)).is_err());
    }
}
