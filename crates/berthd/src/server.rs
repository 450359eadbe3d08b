//! Serving the API on the unix socket and the TCP listeners (plain on loopback, or TLS) until
//! SIGTERM or SIGINT. Each connection's request carries its [`Transport`], which the guard
//! uses to identify the caller. Guests keep running when the server stops: each has its own
//! supervisor process.

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, UnixListener};
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

use crate::api::Transport;
use crate::app::App;
use crate::app::failpoint::Failpoints;
use crate::config::{Config, ListenAddr, TlsSource};

/// A TLS handshake that takes longer than this is dropped.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

pub async fn run(config: Config) -> anyhow::Result<()> {
    let failpoints = Failpoints::from_env();
    if !failpoints.is_empty() {
        tracing::warn!(?failpoints, "failpoints are set: this daemon is for tests");
    }
    let socket_path = config.socket.clone();
    let listeners = config.listeners().map_err(|e| anyhow::anyhow!("{e}"))?;
    let tls_source = config.tls_source().map_err(|e| anyhow::anyhow!("{e}"))?;
    let admin_group = admin_group(&config.auth.socket_group);
    let app = App::start(config, failpoints)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let tls = match tls_source {
        Some(source) if listeners.iter().any(|l| l.tls) => {
            Some(tls_acceptor(&app.config, &source)?)
        }
        _ => None,
    };
    let router = crate::api::router(app);

    let unix = bind_socket(&socket_path, admin_group.as_ref())?;
    let shutdown = CancellationToken::new();
    let mut servers = tokio::task::JoinSet::new();
    servers.spawn(serve_socket(
        unix,
        router.clone(),
        admin_group,
        shutdown.clone(),
    ));
    for listen in listeners {
        let tcp = TcpListener::bind(listen.addr)
            .await
            .with_context(|| format!("binding {listen}"))?;
        tracing::info!(%listen, "listening");
        let acceptor = if listen.tls { tls.clone() } else { None };
        servers.spawn(serve_tcp(
            tcp,
            listen,
            acceptor,
            router.clone(),
            shutdown.clone(),
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
    shutdown.cancel();
    while servers.join_next().await.is_some() {}
    let _ = std::fs::remove_file(&socket_path);
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

async fn serve_socket(
    unix: UnixListener,
    router: Router,
    group: Option<nix::unistd::Group>,
    stop: CancellationToken,
) -> std::io::Result<()> {
    loop {
        let stream = tokio::select! {
            _ = stop.cancelled() => return Ok(()),
            accepted = unix.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    tracing::warn!(error = %e, "accepting on the socket");
                    continue;
                }
            },
        };
        let transport = match stream.peer_cred() {
            Ok(cred) => Transport::Socket {
                uid: cred.uid(),
                admitted: admitted(cred.uid(), cred.gid(), group.as_ref()),
            },
            Err(_) => Transport::Socket {
                uid: u32::MAX,
                admitted: false,
            },
        };
        tokio::spawn(serve_connection(stream, transport, router.clone()));
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

async fn serve_tcp(
    tcp: TcpListener,
    listen: ListenAddr,
    tls: Option<tokio_rustls::TlsAcceptor>,
    router: Router,
    stop: CancellationToken,
) -> std::io::Result<()> {
    loop {
        let (stream, peer) = tokio::select! {
            _ = stop.cancelled() => return Ok(()),
            accepted = tcp.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    tracing::warn!(%listen, error = %e, "accepting");
                    continue;
                }
            },
        };
        let transport = Transport::Tcp {
            peer,
            tls: listen.tls,
        };
        let router = router.clone();
        match &tls {
            None => {
                tokio::spawn(serve_connection(stream, transport, router));
            }
            Some(acceptor) => {
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                        Ok(Ok(stream)) => serve_connection(stream, transport, router).await,
                        Ok(Err(e)) => tracing::debug!(%peer, error = %e, "TLS handshake failed"),
                        Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                    }
                });
            }
        }
    }
}

/// Serves HTTP/1.1 (with upgrades, for WebSockets) on one connection. Public so tests can
/// serve an in-process daemon on a socket of their own.
pub async fn serve_connection<S>(stream: S, transport: Transport, router: Router)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service = router.map_request(move |mut request: axum::http::Request<_>| {
        request.extensions_mut().insert(transport);
        request
    });
    let service = TowerToHyperService::new(service);
    let served = hyper::server::conn::http1::Builder::new()
        .serve_connection(TokioIo::new(stream), service)
        .with_upgrades()
        .await;
    if let Err(e) = served {
        tracing::debug!(error = %e, "connection ended with an error");
    }
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
