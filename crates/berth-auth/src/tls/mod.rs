//! TLS material for the HTTPS listener: a certificate and key given by the operator, or a
//! self-signed pair generated once with rcgen and kept (0600) under `<data_dir>/tls/`. Either
//! way the result is a ready rustls `ServerConfig` (ring provider) and the certificate's SHA-256
//! fingerprint for clients to pin.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{Datelike, Utc};
use rustls::ServerConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use crate::Secret;
use crate::files::{self, FileError};

#[cfg(test)]
mod tests;

/// The directory under the data dir.
pub const TLS_DIR: &str = "tls";
pub const CERT_FILE: &str = "cert.pem";
pub const KEY_FILE: &str = "key.pem";
/// How long a generated certificate is valid.
const VALID_YEARS: i32 = 10;

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("reading {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: no PEM certificate found (expected -----BEGIN CERTIFICATE-----)")]
    NoCertificate { path: PathBuf },
    #[error("{path}: not a PEM private key (PKCS#8, PKCS#1 or SEC1): {reason}")]
    BadKey { path: PathBuf, reason: String },
    #[error("{cert} and {key} do not go together: {reason}")]
    Mismatch {
        cert: PathBuf,
        key: PathBuf,
        reason: String,
    },
    #[error("generating a self-signed certificate: {0}")]
    Generate(#[from] rcgen::Error),
    #[error(transparent)]
    File(#[from] FileError),
}

/// A certificate chain and its key, parsed and ready to serve.
#[derive(Clone)]
pub struct TlsMaterial {
    pub cert_path: PathBuf,
    pub key_path: PathBuf,
    /// The certificate chain, PEM.
    pub cert_pem: String,
    /// The private key, PEM.
    pub key_pem: Secret,
    /// SHA-256 of the leaf certificate (DER), as `AB:CD:…`.
    pub fingerprint: String,
    pub server_config: Arc<ServerConfig>,
}

impl std::fmt::Debug for TlsMaterial {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsMaterial")
            .field("cert_path", &self.cert_path)
            .field("key_path", &self.key_path)
            .field("key_pem", &self.key_pem)
            .field("fingerprint", &self.fingerprint)
            .finish_non_exhaustive()
    }
}

/// The self-signed pair under `<data_dir>/tls/`, generated for `hostnames` (names or IP
/// addresses; `localhost` when empty) on first use and reused after.
pub fn load_or_generate(data_dir: &Path, hostnames: &[String]) -> Result<TlsMaterial, TlsError> {
    let dir = data_dir.join(TLS_DIR);
    let cert_path = dir.join(CERT_FILE);
    let key_path = dir.join(KEY_FILE);
    if !(cert_path.exists() && key_path.exists()) {
        files::private_dir(&dir)?;
        let (cert_pem, key_pem) = generate(hostnames)?;
        // The key first: a cert without its key is regenerated next time, never served.
        files::write_private(&key_path, key_pem.expose().as_bytes())?;
        files::write_private(&cert_path, cert_pem.as_bytes())?;
    }
    load_pem(&cert_path, &key_path)
}

/// A new self-signed certificate and key, PEM.
fn generate(hostnames: &[String]) -> Result<(String, Secret), TlsError> {
    let names = if hostnames.is_empty() {
        vec!["localhost".to_owned()]
    } else {
        hostnames.to_vec()
    };
    let mut params = rcgen::CertificateParams::new(names.clone())?;
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, names[0].clone());
    params
        .distinguished_name
        .push(rcgen::DnType::OrganizationName, "Berth (self-signed)");
    let today = Utc::now().date_naive();
    let (month, day) = (today.month() as u8, today.day().min(28) as u8);
    params.not_before = rcgen::date_time_ymd(today.year(), month, day) - rcgen_day();
    params.not_after = rcgen::date_time_ymd(today.year() + VALID_YEARS, month, day);
    let key = rcgen::KeyPair::generate()?;
    let cert = params.self_signed(&key)?;
    Ok((cert.pem(), Secret::new(key.serialize_pem())))
}

/// One day, in the time type rcgen uses (so we need not depend on `time` ourselves).
fn rcgen_day() -> std::time::Duration {
    std::time::Duration::from_secs(24 * 60 * 60)
}

/// Loads an operator's certificate chain and key, with errors naming the file at fault.
pub fn load_pem(cert_path: &Path, key_path: &Path) -> Result<TlsMaterial, TlsError> {
    let read = |path: &Path| {
        std::fs::read(path).map_err(|source| TlsError::Read {
            path: path.to_owned(),
            source,
        })
    };
    let cert_bytes = read(cert_path)?;
    let key_bytes = read(key_path)?;
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&cert_bytes)
        .collect::<Result<_, _>>()
        .map_err(|_| TlsError::NoCertificate {
            path: cert_path.to_owned(),
        })?;
    let Some(leaf) = chain.first() else {
        return Err(TlsError::NoCertificate {
            path: cert_path.to_owned(),
        });
    };
    let fingerprint = fingerprint(leaf);
    let key = PrivateKeyDer::from_pem_slice(&key_bytes).map_err(|e| TlsError::BadKey {
        path: key_path.to_owned(),
        reason: e.to_string(),
    })?;
    let mismatch = |reason: String| TlsError::Mismatch {
        cert: cert_path.to_owned(),
        key: key_path.to_owned(),
        reason,
    };
    let mut config =
        ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .map_err(|e| mismatch(e.to_string()))?
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .map_err(|e| mismatch(e.to_string()))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsMaterial {
        cert_path: cert_path.to_owned(),
        key_path: key_path.to_owned(),
        cert_pem: String::from_utf8_lossy(&cert_bytes).into_owned(),
        key_pem: Secret::new(String::from_utf8_lossy(&key_bytes).into_owned()),
        fingerprint,
        server_config: Arc::new(config),
    })
}

/// SHA-256 of a DER certificate as uppercase hex pairs joined by `:`.
pub fn fingerprint(cert: &[u8]) -> String {
    berth_tls::format_fingerprint(&berth_tls::fingerprint_of(cert))
}
