//! Following an operation to its end, as a progress bar on a terminal.
//!
//! Over one connection: the event stream (`GET /events?types=operation`), subscribed before the
//! operation is read once, so its end is seen the moment berthd publishes it and no change can
//! fall between the read and the subscription. Where the stream is not available (a proxy
//! without WebSockets), the wait endpoint answers once a second with the operation as it is.

use std::io::IsTerminal;
use std::time::Duration;

use anyhow::bail;
use berth_types::events::{Event, EventData};
use berth_types::{Operation, OperationStatus};
use futures_util::StreamExt;
use indicatif::{ProgressBar, ProgressStyle};
use tokio_tungstenite::tungstenite::Message;

use crate::client::Client;
use crate::terminal;

/// How long the stream may stay silent before the operation is read again (a slow reader's
/// events can be dropped by berthd, which then sends a notice; this also covers a lost one).
const RESYNC: Duration = Duration::from_secs(5);

/// Follows the operation until it ends, showing its progress and current step's message.
/// Fails with the operation's error when it does not succeed.
pub async fn follow(
    client: &Client,
    operation: Operation,
    quiet: bool,
) -> anyhow::Result<Operation> {
    let bar = bar(quiet);
    let ended = match terminal::open(client, "/events?types=operation").await {
        Ok(socket) => over_events(client, socket, &operation, &bar).await?,
        Err(_) => by_waiting(client, operation, &bar).await?,
    };
    bar.finish_and_clear();
    match ended.status {
        OperationStatus::Success => Ok(ended),
        OperationStatus::Cancelled => bail!("operation {} was cancelled", ended.id),
        _ => bail!(
            "{}",
            ended
                .error
                .clone()
                .unwrap_or_else(|| format!("operation {} failed", ended.id))
        ),
    }
}

fn bar(quiet: bool) -> ProgressBar {
    if quiet || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(100);
    bar.set_style(
        ProgressStyle::with_template("{spinner} [{bar:30}] {pos:>3}% {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar.enable_steady_tick(Duration::from_millis(120));
    bar
}

fn show(bar: &ProgressBar, operation: &Operation) {
    bar.set_position(operation.progress.into());
    bar.set_message(operation.message.clone());
}

async fn over_events<S>(
    client: &Client,
    mut socket: tokio_tungstenite::WebSocketStream<S>,
    operation: &Operation,
    bar: &ProgressBar,
) -> anyhow::Result<Operation>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let path = format!("/operations/{}", operation.id);
    // Subscribed first, then read: nothing can happen in between unseen.
    let mut current: Operation = client.get(&path).await?;
    while !current.status.is_final() {
        show(bar, &current);
        let message = match tokio::time::timeout(RESYNC, socket.next()).await {
            Err(_) => {
                current = client.get(&path).await?;
                continue;
            }
            Ok(message) => message,
        };
        match message {
            Some(Ok(Message::Text(text))) => match serde_json::from_str::<Event>(&text) {
                Ok(Event {
                    data: EventData::Operation(op),
                    ..
                }) if op.id == operation.id => current = *op,
                // Events were dropped: read the operation rather than trust the stream.
                Ok(Event {
                    data: EventData::Notice(_),
                    ..
                }) => current = client.get(&path).await?,
                _ => {}
            },
            Some(Ok(Message::Close(_))) | None | Some(Err(_)) => {
                return by_waiting(client, current, bar).await;
            }
            Some(Ok(_)) => {}
        }
    }
    let _ = socket.close(None).await;
    Ok(current)
}

async fn by_waiting(
    client: &Client,
    mut current: Operation,
    bar: &ProgressBar,
) -> anyhow::Result<Operation> {
    let path = format!("/operations/{}/wait?timeout=1", current.id);
    while !current.status.is_final() {
        show(bar, &current);
        current = client.get(&path).await?;
    }
    Ok(current)
}
