//! Serving the API on the unix socket and the TCP listeners (plain on loopback, or TLS) until
//! SIGTERM or SIGINT. Each connection's request carries its [`Transport`], which the guard
//! uses to identify the caller. Guests keep running when the server stops: each has its own
//! supervisor process.
//!
//! Start-up claims before it changes anything: the data directory's lock first, then the
//! socket (never replacing a live one), then the TCP ports; only then does the app start. So a
//! second berthd on the same data dir, socket or port stops with a clear message and leaves
//! the running one alone.

use std::os::unix::fs::PermissionsExt;
use std::sync::Arc;

use anyhow::Context;
use axum::Router;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, UnixListener};
use tokio_util::sync::CancellationToken;

use crate::api::Transport;
use crate::app::App;
use crate::app::failpoint::Failpoints;
use crate::config::{Config, TlsSource};
use crate::limits::ConnectionLimiter;
use crate::listen::{ConnectionTimeouts, Serving, claim, fds};

pub async fn run(config: Config) -> anyhow::Result<()> {
    let _data_dir = claim::lock_data_dir(&config.data_dir)?;
    let _socket_claim = claim::claim_socket(&config.socket)?;
    let failpoints = Failpoints::from_env();
    if !failpoints.is_empty() {
        tracing::warn!(?failpoints, "failpoints are set: this daemon is for tests");
    }
    let socket_path = config.socket.clone();
    let listeners = config.listeners().map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut bound = Vec::new();
    for listen in listeners {
        let tcp = TcpListener::bind(listen.addr).await.with_context(|| {
            format!("binding {listen} (is another berthd or program listening there?)")
        })?;
        bound.push((tcp, listen));
    }
    let tls_source = config.tls_source().map_err(|e| anyhow::anyhow!("{e}"))?;
    let admin_group = admin_group(&config.auth.socket_group);
    let server = config.server.clone();
    let app = App::start(config, failpoints)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let tls = match tls_source {
        Some(source) if bound.iter().any(|(_, l)| l.tls) => {
            Some(tls_acceptor(&app.config, &source)?)
        }
        _ => None,
    };
    let router = crate::api::router(app);

    let unix = bind_socket(&socket_path, admin_group.as_ref())?;
    let descriptors = fds::raise_limit();
    let tcp_budget = fds::tcp_budget(
        server.max_connections,
        server.max_socket_connections,
        descriptors,
    );
    let serving = Arc::new(Serving {
        router,
        timeouts: ConnectionTimeouts {
            header_read: server.header_read_timeout(),
            keep_alive: server.keep_alive(),
        },
        tcp: ConnectionLimiter::new(tcp_budget, server.max_connections_per_client),
        socket: ConnectionLimiter::new(server.max_socket_connections, u32::MAX),
        stop: CancellationToken::new(),
    });
    // Hands memory a burst of requests freed back to the kernel once the API is quiet again.
    tokio::spawn(crate::host::memory::trim_when_idle(serving.stop.clone()));
    let mut servers = tokio::task::JoinSet::new();
    servers.spawn(crate::listen::serve_socket(
        unix,
        serving.clone(),
        move |stream| socket_transport(stream, admin_group.as_ref()),
    ));
    for (tcp, listen) in bound {
        tracing::info!(%listen, "listening");
        let acceptor = if listen.tls { tls.clone() } else { None };
        servers.spawn(crate::listen::serve_tcp(
            tcp,
            listen,
            acceptor,
            serving.clone(),
        ));
    }

    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        _ = term.recv() => tracing::info!("SIGTERM: stopping; instances keep running"),
        _ = tokio::signal::ctrl_c() => tracing::info!("SIGINT: stopping; instances keep running"),
        Some(result) = servers.join_next() => {
            result.context("server task")?.context("server")?;
        }
    }
    serving.stop.cancel();
    while servers.join_next().await.is_some() {}
    let _ = std::fs::remove_file(&socket_path);
    if !serving.drained(server.shutdown_timeout()).await {
        tracing::warn!(
            seconds = server.shutdown_timeout_seconds,
            "requests still under way after the shutdown timeout; exiting anyway"
        );
    }
    Ok(())
}

/// The socket, mode 0660, group-owned by the admin group when it exists: never
/// world-accessible.
fn bind_socket(
    path: &std::path::Path,
    group: Option<&nix::unistd::Group>,
) -> anyhow::Result<UnixListener> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("creating {}", parent.display()))?;
    }
    // Stale: `claim::claim_socket` found nobody answering on it and holds its lock.
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            return Err(e).with_context(|| format!("removing the stale socket {}", path.display()));
        }
        _ => {}
    }
    let unix = UnixListener::bind(path).with_context(|| format!("binding {}", path.display()))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o660))
        .with_context(|| format!("chmod {}", path.display()))?;
    if let Some(group) = group {
        nix::unistd::chown(path, None, Some(group.gid))
            .with_context(|| format!("chgrp {} {}", group.name, path.display()))?;
    }
    tracing::info!(socket = %path.display(), "listening");
    Ok(unix)
}

fn admin_group(name: &str) -> Option<nix::unistd::Group> {
    if name.is_empty() {
        return None;
    }
    nix::unistd::Group::from_name(name).ok().flatten()
}

/// Who is on the other end of a socket connection.
fn socket_transport(
    stream: &tokio::net::UnixStream,
    group: Option<&nix::unistd::Group>,
) -> Transport {
    match stream.peer_cred() {
        Ok(cred) => Transport::Socket {
            uid: cred.uid(),
            admitted: admitted(cred.uid(), cred.gid(), group),
        },
        Err(_) => Transport::Socket {
            uid: u32::MAX,
            admitted: false,
        },
    }
}

/// Root, or a member of the admin group (primary or listed), is an admin on the socket.
fn admitted(uid: u32, gid: u32, group: Option<&nix::unistd::Group>) -> bool {
    if uid == 0 {
        return true;
    }
    let Some(group) = group else { return false };
    if gid == group.gid.as_raw() {
        return true;
    }
    nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(uid))
        .ok()
        .flatten()
        .is_some_and(|user| group.mem.contains(&user.name))
}

/// Serves HTTP/1.1 (with upgrades, for WebSockets) on one connection with the default time
/// limits. Public so tests can serve an in-process daemon on a socket of their own.
pub async fn serve_connection<S>(stream: S, transport: Transport, router: Router)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    crate::listen::conn::serve(
        stream,
        transport,
        router,
        ConnectionTimeouts::default(),
        CancellationToken::new(),
    )
    .await;
}

/// The certificate for the HTTPS listeners: generated once and kept, or the operator's files.
fn tls_acceptor(config: &Config, source: &TlsSource) -> anyhow::Result<tokio_rustls::TlsAcceptor> {
    let material = match source {
        TlsSource::SelfSigned => {
            let hostname = nix::unistd::gethostname()
                .ok()
                .and_then(|h| h.into_string().ok())
                .unwrap_or_else(|| "localhost".into());
            berth_auth::tls::load_or_generate(&config.data_dir, &[hostname, "localhost".into()])
        }
        TlsSource::Files { cert, key } => berth_auth::tls::load_pem(cert, key),
    }
    .map_err(|e| anyhow::anyhow!("TLS: {}", berth_types::error_chain(&e)))?;
    tracing::info!(
        fingerprint = %material.fingerprint,
        cert = %material.cert_path.display(),
        "TLS certificate (SHA-256 fingerprint; pin it with berth login --fingerprint)"
    );
    Ok(tokio_rustls::TlsAcceptor::from(material.server_config))
}
