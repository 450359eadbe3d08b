//! Configuring a userspace WireGuard device over its UAPI socket
//! (`/var/run/wireguard/<ifname>.sock`, the cross-platform protocol `wg` itself speaks): keys
//! in hex, peers with endpoints (resolved here) and allowed IPs. Keys never reach a log.

use std::io::{BufRead, BufReader, Write};
use std::net::ToSocketAddrs;
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::time::Duration;

use base64::Engine as _;

/// Where userspace WireGuard implementations put their control socket.
pub const UAPI_DIR: &str = "/var/run/wireguard";

#[derive(Debug, thiserror::Error)]
pub enum UapiError {
    #[error("{0} is not a WireGuard key (base64 of 32 bytes)")]
    BadKey(&'static str),
    #[error("cannot resolve endpoint {0}")]
    Endpoint(String),
    #[error("talking to {}", .path.display())]
    Socket {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the WireGuard device refused the configuration (errno {0})")]
    Refused(String),
}

/// One peer of a device.
#[derive(Clone, PartialEq, Eq)]
pub struct UapiPeer {
    pub public_key: String,
    pub preshared_key: Option<String>,
    /// `host:port`; resolved when the device is configured.
    pub endpoint: Option<String>,
    pub allowed_ips: Vec<String>,
    pub keepalive: Option<u16>,
}

/// A device's whole configuration (replaces what it had).
#[derive(Clone, PartialEq, Eq)]
pub struct UapiConfig {
    pub private_key: String,
    pub listen_port: Option<u16>,
    pub peers: Vec<UapiPeer>,
}

impl std::fmt::Debug for UapiConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UapiConfig")
            .field("listen_port", &self.listen_port)
            .field("peers", &self.peers.len())
            .finish_non_exhaustive()
    }
}

fn hex_key(b64: &str, what: &'static str) -> Result<String, UapiError> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .map_err(|_| UapiError::BadKey(what))?;
    if bytes.len() != 32 {
        return Err(UapiError::BadKey(what));
    }
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

impl UapiConfig {
    /// The `set=1` request text.
    pub fn request(&self) -> Result<String, UapiError> {
        let mut text = String::from("set=1\n");
        text.push_str(&format!(
            "private_key={}\n",
            hex_key(&self.private_key, "PrivateKey")?
        ));
        if let Some(port) = self.listen_port {
            text.push_str(&format!("listen_port={port}\n"));
        }
        text.push_str("replace_peers=true\n");
        for peer in &self.peers {
            text.push_str(&format!(
                "public_key={}\n",
                hex_key(&peer.public_key, "PublicKey")?
            ));
            if let Some(psk) = &peer.preshared_key {
                text.push_str(&format!(
                    "preshared_key={}\n",
                    hex_key(psk, "PresharedKey")?
                ));
            }
            if let Some(endpoint) = &peer.endpoint {
                let addr = endpoint
                    .to_socket_addrs()
                    .ok()
                    .and_then(|mut a| a.next())
                    .ok_or_else(|| UapiError::Endpoint(endpoint.clone()))?;
                text.push_str(&format!("endpoint={addr}\n"));
            }
            if let Some(keepalive) = peer.keepalive {
                text.push_str(&format!("persistent_keepalive_interval={keepalive}\n"));
            }
            text.push_str("replace_allowed_ips=true\n");
            for ip in &peer.allowed_ips {
                text.push_str(&format!("allowed_ip={ip}\n"));
            }
        }
        text.push('\n');
        Ok(text)
    }

    /// Sends the configuration to the device `ifname`.
    pub fn apply(&self, ifname: &str) -> Result<(), UapiError> {
        let path = PathBuf::from(UAPI_DIR).join(format!("{ifname}.sock"));
        let socket_err = |source| UapiError::Socket {
            path: path.clone(),
            source,
        };
        let request = self.request()?;
        let mut stream = UnixStream::connect(&path).map_err(socket_err)?;
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .map_err(socket_err)?;
        stream.write_all(request.as_bytes()).map_err(socket_err)?;
        let mut errno = None;
        for line in BufReader::new(stream).lines() {
            let line = line.map_err(socket_err)?;
            if line.is_empty() {
                break;
            }
            if let Some(value) = line.strip_prefix("errno=") {
                errno = Some(value.to_owned());
            }
        }
        match errno.as_deref() {
            Some("0") => Ok(()),
            Some(other) => Err(UapiError::Refused(other.to_owned())),
            None => Err(UapiError::Refused("no answer".into())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_request_has_hex_keys_and_resolved_endpoints() -> Result<(), UapiError> {
        let config = UapiConfig {
            private_key: "YNqHbfBQKaGvzefSSuufuPmk5WOCzkjZbyL1XZGrNGQ=".into(),
            listen_port: Some(51820),
            peers: vec![UapiPeer {
                public_key: "xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=".into(),
                preshared_key: None,
                endpoint: Some("127.0.0.1:51821".into()),
                allowed_ips: vec!["fd99::/64".into(), "10.99.0.0/24".into()],
                keepalive: Some(25),
            }],
        };
        let text = config.request()?;
        assert!(
            text.starts_with("set=1\nprivate_key=60da876df0502"),
            "{text}"
        );
        assert!(text.contains("endpoint=127.0.0.1:51821\n"));
        assert!(text.contains("allowed_ip=fd99::/64\nallowed_ip=10.99.0.0/24\n"));
        assert!(text.ends_with("\n\n"));
        assert!(
            !format!("{config:?}").contains("YNqH"),
            "Debug hides the key"
        );
        let bad = UapiConfig {
            private_key: "short".into(),
            ..config
        };
        assert!(matches!(
            bad.request(),
            Err(UapiError::BadKey("PrivateKey"))
        ));
        Ok(())
    }
}
