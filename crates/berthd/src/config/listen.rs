//! `listen` entries: `ADDR:PORT` or `http://ADDR:PORT` for plain HTTP, `https://ADDR:PORT` for
//! TLS. Plain HTTP is allowed on loopback only: tokens and passwords must not cross a network in
//! clear.

use std::net::SocketAddr;

/// One TCP listener.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListenAddr {
    pub addr: SocketAddr,
    pub tls: bool,
}

impl ListenAddr {
    /// Parses one `listen` entry; errors name it and say what to write.
    pub fn parse(entry: &str) -> Result<Self, String> {
        let (tls, rest) = if let Some(rest) = entry.strip_prefix("https://") {
            (true, rest)
        } else if let Some(rest) = entry.strip_prefix("http://") {
            (false, rest)
        } else {
            (false, entry)
        };
        let addr: SocketAddr = rest.trim_end_matches('/').parse().map_err(|_| {
            format!(
                "listen: {entry:?} is not ADDR:PORT, http://ADDR:PORT or https://ADDR:PORT, \
                 e.g. 127.0.0.1:8440 or https://0.0.0.0:8443"
            )
        })?;
        if !tls && !addr.ip().is_loopback() {
            return Err(format!(
                "listen: {entry} would send passwords and tokens over the network in clear; use \
                 https://{addr} (with tls = \"self-signed\" or tls_cert/tls_key), or keep plain \
                 HTTP on a loopback address behind a TLS proxy"
            ));
        }
        Ok(Self { addr, tls })
    }
}

impl std::fmt::Display for ListenAddr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let scheme = if self.tls { "https" } else { "http" };
        write!(f, "{scheme}://{}", self.addr)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schemes_and_the_clear_text_rule() {
        let plain = ListenAddr::parse("127.0.0.1:8440").expect("plain loopback");
        assert!(!plain.tls);
        assert_eq!(plain.to_string(), "http://127.0.0.1:8440");
        assert!(ListenAddr::parse("http://[::1]:80").is_ok());
        let tls = ListenAddr::parse("https://0.0.0.0:8443").expect("tls anywhere");
        assert!(tls.tls);
        let err = ListenAddr::parse("0.0.0.0:8440").expect_err("clear text on the network");
        assert!(err.contains("https://0.0.0.0:8440"), "{err}");
        assert!(ListenAddr::parse("localhost").is_err());
    }
}
