//! `GET /api/v1/instances/{name}/console`: a WebSocket carrying a terminal. Binary frames are
//! the terminal's bytes both ways; text frames are JSON `ConsoleControl` messages (resize from
//! the client, the exit code from the server, which then closes).

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, State};
use axum::response::Response;
use berth_runtime::TerminalSession;
use berth_types::api::{ConsoleControl, ConsoleQuery, ErrorBody};
use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::InstancePath;
use crate::api::access::{Rule, Who};
use crate::api::extract::{Caller, Query};
use crate::api::{ApiError, AppState};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(console))
}

#[utoipa::path(get, path = "/api/v1/instances/{name}/console", operation_id = "instance.console",
    extensions(("x-berth-access" = json!(Rule::writes(Who::InstanceOwner)))), tag = "instances",
    params(InstancePath, ConsoleQuery),
    responses((status = 101, description = "WebSocket: binary frames are terminal bytes, text frames JSON ConsoleControl"),
              (status = 400, description = "Bad mode or command", body = ErrorBody),
              (status = 404, description = "No such instance", body = ErrorBody),
              (status = 409, description = "The instance is not running", body = ErrorBody)))]
pub async fn console(
    State(app): State<AppState>,
    Caller(caller): Caller,
    Path(InstancePath { name }): Path<InstancePath>,
    Query(query): Query<ConsoleQuery>,
    upgrade: WebSocketUpgrade,
) -> Result<Response, ApiError> {
    let session = app.open_console(&caller, &name, &query).await?;
    Ok(upgrade.on_upgrade(move |socket| relay(socket, session, name)))
}

/// Copies bytes between the socket and the terminal until either side ends.
async fn relay(socket: WebSocket, session: TerminalSession, name: String) {
    let (mut tx, mut rx) = socket.split();
    let TerminalSession {
        mut output,
        mut input,
        resizer,
        exit,
    } = session;
    let pump_out = async {
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            match output.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if tx
                        .send(Message::Binary(buf[..n].to_vec().into()))
                        .await
                        .is_err()
                    {
                        return tx;
                    }
                }
            }
        }
        tx
    };
    let pump_in = async {
        while let Some(Ok(message)) = rx.next().await {
            let open = match message {
                Message::Binary(bytes) => input.write_all(&bytes).await.is_ok(),
                Message::Text(text) => {
                    if let (Ok(ConsoleControl::Resize { rows, cols }), Some(resizer)) =
                        (serde_json::from_str(&text), &resizer)
                    {
                        let _ = resizer.resize(rows, cols);
                    }
                    true
                }
                Message::Close(_) => false,
                _ => true,
            };
            if !open {
                break;
            }
        }
    };
    tokio::pin!(pump_out, pump_in);
    let mut tx = tokio::select! {
        tx = &mut pump_out => tx,
        () = &mut pump_in => {
            tracing::info!(instance = %name, "terminal viewer left");
            return;
        }
    };
    let code = exit.await.unwrap_or(-1);
    let control = serde_json::to_string(&ConsoleControl::Exit { code }).unwrap_or_default();
    let _ = tx.send(Message::Text(control.into())).await;
    let _ = tx.send(Message::Close(None)).await;
    tracing::info!(instance = %name, code, "terminal session ended");
}
