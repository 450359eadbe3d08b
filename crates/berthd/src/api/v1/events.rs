//! `GET /api/v1/events`: a WebSocket of JSON events (one per text message), filtered by type
//! and instance, and by what the caller may see.

use std::time::Duration;

use axum::extract::State;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade, close_code};
use axum::response::Response;
use berth_types::api::ErrorBody;
use berth_types::events::EventsQuery;
use futures_util::{SinkExt, StreamExt};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::api::access::{Rule, Who};
use crate::api::extract::{Caller, Query};
use crate::api::{ApiError, AppState};
use crate::app::events::Subscription;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(events))
}

/// A ping this often finds peers that vanished without closing.
const PING_EVERY: Duration = Duration::from_secs(30);

#[utoipa::path(get, path = "/api/v1/events", operation_id = "event.stream",
    extensions(("x-berth-access" = json!(Rule::reads(Who::User)))), tag = "events", params(EventsQuery),
    responses((status = 101, description = "WebSocket: each text message is one event", body = berth_types::events::WireEvent),
              (status = 400, description = "Unknown event type or bad instance name", body = ErrorBody)))]
pub async fn events(
    State(app): State<AppState>,
    Caller(caller): Caller,
    Query(query): Query<EventsQuery>,
    upgrade: WebSocketUpgrade,
) -> Result<Response, ApiError> {
    // Subscribed before the handshake answers, so nothing published after it is missed.
    let subscription = app.subscribe_events(caller, &query)?;
    Ok(upgrade.on_upgrade(move |socket| relay(socket, subscription)))
}

/// Sends events until the client leaves; the client's own messages are read and ignored.
async fn relay(socket: WebSocket, mut subscription: Subscription) {
    let (mut tx, mut rx) = socket.split();
    let mut ping = tokio::time::interval(PING_EVERY);
    ping.reset();
    loop {
        tokio::select! {
            event = subscription.recv() => {
                let Some(event) = event else {
                    // Dropped by the bus: the credential ended (or berthd is stopping).
                    let frame = CloseFrame {
                        code: close_code::POLICY,
                        reason: "the session or token ended; log in again".into(),
                    };
                    let _ = tx.send(Message::Close(Some(frame))).await;
                    return;
                };
                let text = event.json();
                if text.is_empty() {
                    continue;
                }
                if tx.send(Message::Text(text.into())).await.is_err() {
                    break;
                }
            }
            message = rx.next() => match message {
                None | Some(Err(_)) | Some(Ok(Message::Close(_))) => break,
                Some(Ok(_)) => {}
            },
            _ = ping.tick() => {
                if tx.send(Message::Ping(Vec::new().into())).await.is_err() {
                    break;
                }
            }
        }
    }
    let _ = tx.close().await;
}
