//! `[server]`: how long a client may take, and how many connections and WebSockets berthd
//! holds at once — over TCP in all, per client address, and on the unix socket, which keeps a
//! budget of its own so the admin always gets in while TCP is flooded.

use std::time::Duration;

use serde::Deserialize;

/// `[server]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// A client must send each request's head (request line and headers) within this many
    /// seconds of connecting or of its previous answer.
    pub header_read_timeout_seconds: u64,
    /// An idle keep-alive connection is closed after this many seconds.
    pub keep_alive_seconds: u64,
    /// TCP connections held at once, every listener together; more are closed at once.
    pub max_connections: u32,
    /// TCP connections held at once from one client address.
    pub max_connections_per_client: u32,
    /// Connections held at once on the unix socket (its own budget, apart from TCP's). Only
    /// root and `berth-admin` reach it; 128 `berth launch` at once each hold one while they wait.
    pub max_socket_connections: u32,
    /// WebSockets (consoles, event streams) open at once, and per user.
    pub max_websockets: u32,
    pub max_websockets_per_user: u32,
    /// On SIGTERM, how long requests under way may take before berthd exits anyway.
    pub shutdown_timeout_seconds: u64,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            header_read_timeout_seconds: 10,
            keep_alive_seconds: 5,
            max_connections: 1024,
            max_connections_per_client: 64,
            max_socket_connections: 512,
            max_websockets: 256,
            max_websockets_per_user: 16,
            shutdown_timeout_seconds: 10,
        }
    }
}

impl ServerConfig {
    pub fn header_read_timeout(&self) -> Duration {
        Duration::from_secs(self.header_read_timeout_seconds)
    }

    pub fn keep_alive(&self) -> Duration {
        Duration::from_secs(self.keep_alive_seconds)
    }

    pub fn shutdown_timeout(&self) -> Duration {
        Duration::from_secs(self.shutdown_timeout_seconds)
    }

    /// Every value must be usable: a zero would stop the daemon from serving at all.
    pub fn validate(&self) -> Result<(), String> {
        let positive = [
            (
                "header_read_timeout_seconds",
                self.header_read_timeout_seconds,
            ),
            ("keep_alive_seconds", self.keep_alive_seconds),
            ("max_connections", u64::from(self.max_connections)),
            (
                "max_connections_per_client",
                u64::from(self.max_connections_per_client),
            ),
            (
                "max_socket_connections",
                u64::from(self.max_socket_connections),
            ),
            ("max_websockets", u64::from(self.max_websockets)),
            (
                "max_websockets_per_user",
                u64::from(self.max_websockets_per_user),
            ),
            ("shutdown_timeout_seconds", self.shutdown_timeout_seconds),
        ];
        if let Some((key, _)) = positive.iter().find(|(_, v)| *v == 0) {
            return Err(format!(
                "server.{key}: 0 would refuse every client; use 1 or more"
            ));
        }
        let hour = 3600;
        for (key, value) in [
            (
                "header_read_timeout_seconds",
                self.header_read_timeout_seconds,
            ),
            ("keep_alive_seconds", self.keep_alive_seconds),
            ("shutdown_timeout_seconds", self.shutdown_timeout_seconds),
        ] {
            if value > hour {
                return Err(format!(
                    "server.{key}: {value} is more than an hour; give 1 to {hour} seconds"
                ));
            }
        }
        Ok(())
    }
}
