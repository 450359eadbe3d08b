//! The accept loops of the unix socket and the TCP listeners: each connection is admitted
//! against its budget (TCP in all and per client address; the socket apart) before anything
//! is read from it, served under the connection time limits, and given back when it ends.
//! Failing accepts back off and are logged once per interval.

pub mod accept;
pub mod claim;
pub mod conn;
pub mod fds;

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use tokio::net::{TcpListener, UnixListener};
use tokio_util::sync::CancellationToken;

use crate::api::Transport;
use crate::config::ListenAddr;
use crate::limits::{ConnectionLimiter, Refused};
use accept::{AcceptErrors, LOG_EVERY};
pub use conn::ConnectionTimeouts;

/// A TLS handshake that takes longer than this is dropped.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// What every accept loop shares.
pub struct Serving {
    pub router: Router,
    pub timeouts: ConnectionTimeouts,
    /// TCP connections, every listener together.
    pub tcp: ConnectionLimiter,
    /// The unix socket's own budget.
    pub socket: ConnectionLimiter,
    pub stop: CancellationToken,
}

impl Serving {
    /// Waits until every connection has ended, or `deadline` passed; true if all ended.
    pub async fn drained(&self, deadline: Duration) -> bool {
        let until = Instant::now() + deadline;
        while self.tcp.held() + self.socket.held() > 0 {
            if Instant::now() >= until {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        true
    }
}

/// Counts connections turned away and says so at most once per interval.
struct Refusals {
    listener: String,
    since_log: u64,
    logged_at: Option<Instant>,
}

impl Refusals {
    fn new(listener: String) -> Self {
        Self {
            listener,
            since_log: 0,
            logged_at: None,
        }
    }

    fn refused(&mut self, why: Refused) {
        self.since_log += 1;
        let now = Instant::now();
        if self
            .logged_at
            .is_none_or(|at| now.saturating_duration_since(at) >= LOG_EVERY)
        {
            tracing::warn!(listener = %self.listener, refused = self.since_log, reason = %why,
                "connections over budget were closed (summarised every {} s)", LOG_EVERY.as_secs());
            self.since_log = 0;
            self.logged_at = Some(now);
        }
    }
}

/// Pauses after a failed accept, unless the loop is stopping.
async fn pause(stop: &CancellationToken, pause: Duration) {
    if !pause.is_zero() {
        tokio::select! {
            () = stop.cancelled() => {}
            () = tokio::time::sleep(pause) => {}
        }
    }
}

/// Serves the unix socket; `transport` names the peer of each connection.
pub async fn serve_socket(
    unix: UnixListener,
    serving: Arc<Serving>,
    transport: impl Fn(&tokio::net::UnixStream) -> Transport + Send + 'static,
) -> std::io::Result<()> {
    let mut errors = AcceptErrors::new("unix socket");
    let mut refusals = Refusals::new("unix socket".into());
    loop {
        let stream = tokio::select! {
            () = serving.stop.cancelled() => return Ok(()),
            accepted = unix.accept() => match accepted {
                Ok((stream, _)) => {
                    errors.succeeded();
                    crate::host::memory::note_activity();
                    stream
                }
                Err(e) => {
                    pause(&serving.stop, errors.failed(&e).pause).await;
                    continue;
                }
            },
        };
        let permit = match serving.socket.admit(None) {
            Ok(permit) => permit,
            Err(why) => {
                refusals.refused(why);
                // As on TCP: a 503 to retry after, not a bare reset.
                let _ = stream.try_write(BUSY);
                continue;
            }
        };
        let transport = transport(&stream);
        let (router, timeouts, stop) = (
            serving.router.clone(),
            serving.timeouts,
            serving.stop.clone(),
        );
        tokio::spawn(async move {
            let _permit = permit;
            conn::serve(stream, transport, router, timeouts, stop).await;
        });
    }
}

/// The answer a plain-HTTP client over budget gets before the connection closes.
const BUSY: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\nConnection: close\r\n\
Content-Type: application/json\r\nContent-Length: 89\r\n\r\n\
{\"error\":{\"code\":\"unavailable\",\"message\":\"too many connections; try again\",\"field\":null}}";

/// Serves one TCP listener (plain, or TLS with `tls`).
pub async fn serve_tcp(
    tcp: TcpListener,
    listen: ListenAddr,
    tls: Option<tokio_rustls::TlsAcceptor>,
    serving: Arc<Serving>,
) -> std::io::Result<()> {
    let mut errors = AcceptErrors::new(listen.to_string());
    let mut refusals = Refusals::new(listen.to_string());
    loop {
        let (stream, peer) = tokio::select! {
            () = serving.stop.cancelled() => return Ok(()),
            accepted = tcp.accept() => match accepted {
                Ok(accepted) => {
                    errors.succeeded();
                    crate::host::memory::note_activity();
                    accepted
                }
                Err(e) => {
                    pause(&serving.stop, errors.failed(&e).pause).await;
                    continue;
                }
            },
        };
        let permit = match serving.tcp.admit(Some(peer.ip())) {
            Ok(permit) => permit,
            Err(why) => {
                refusals.refused(why);
                if tls.is_none() {
                    // Best effort, never waiting: the socket buffer of a new connection is empty.
                    let _ = stream.try_write(BUSY);
                }
                continue;
            }
        };
        let transport = Transport::Tcp {
            peer,
            tls: listen.tls,
        };
        let (router, timeouts, stop) = (
            serving.router.clone(),
            serving.timeouts,
            serving.stop.clone(),
        );
        let acceptor = tls.clone();
        tokio::spawn(async move {
            let _permit = permit;
            let Some(acceptor) = acceptor else {
                return conn::serve(stream, transport, router, timeouts, stop).await;
            };
            match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                Ok(Ok(stream)) => conn::serve(stream, transport, router, timeouts, stop).await,
                Ok(Err(e)) => tracing::debug!(%peer, error = %e, "TLS handshake failed"),
                Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
            }
        });
    }
}
