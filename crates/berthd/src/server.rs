//! Serving the API on the unix socket and the TCP listeners until SIGTERM or SIGINT. Guests
//! keep running when the server stops: each has its own supervisor process.

use std::os::unix::fs::PermissionsExt;

use anyhow::Context;
use tokio::net::{TcpListener, UnixListener};

use crate::app::App;
use crate::app::failpoint::Failpoints;
use crate::config::Config;

pub async fn run(config: Config) -> anyhow::Result<()> {
    let failpoints = Failpoints::from_env();
    if !failpoints.is_empty() {
        tracing::warn!(?failpoints, "failpoints are set: this daemon is for tests");
    }
    let socket_path = config.socket.clone();
    let listen = config.listen.clone();
    let app = App::start(config, failpoints)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let router = crate::api::router(app);

    if let Some(parent) = socket_path.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("creating {}", parent.display()))?;
    }
    match std::fs::remove_file(&socket_path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            return Err(e)
                .with_context(|| format!("removing the stale socket {}", socket_path.display()));
        }
        _ => {}
    }
    let unix = UnixListener::bind(&socket_path)
        .with_context(|| format!("binding {}", socket_path.display()))?;
    std::fs::set_permissions(&socket_path, std::fs::Permissions::from_mode(0o660))
        .with_context(|| format!("chmod {}", socket_path.display()))?;
    tracing::info!(socket = %socket_path.display(), "listening");

    let mut servers = tokio::task::JoinSet::new();
    let shutdown = tokio_util::sync::CancellationToken::new();
    {
        let router = router.clone();
        let stop = shutdown.clone();
        servers.spawn(async move {
            axum::serve(unix, router)
                .with_graceful_shutdown(stop.cancelled_owned())
                .await
        });
    }
    for addr in listen {
        let tcp = TcpListener::bind(&addr)
            .await
            .with_context(|| format!("binding {addr}"))?;
        tracing::info!(%addr, "listening");
        let router = router.clone();
        let stop = shutdown.clone();
        servers.spawn(async move {
            axum::serve(tcp, router)
                .with_graceful_shutdown(stop.cancelled_owned())
                .await
        });
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
