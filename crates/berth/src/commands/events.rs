//! `berth events [--types …] [--instance NAME]`: the live event stream, one line per event
//! (one JSON object per line with `--format json`), until Ctrl-C.

use anyhow::bail;
use berth_types::events::{Event, EventData};
use berth_types::units::format_bytes;
use clap::Args;
use futures_util::StreamExt;
use tokio_tungstenite::tungstenite::Message;

use super::Context;
use crate::client::query_value;
use crate::output::Format;
use crate::terminal;

#[derive(Args)]
pub struct EventsArgs {
    /// Comma-separated: operation, lifecycle, metrics (all when left out).
    #[arg(long)]
    pub types: Option<String>,
    /// Only events about this instance.
    #[arg(long)]
    pub instance: Option<String>,
}

pub async fn follow(ctx: &Context, args: EventsArgs) -> anyhow::Result<()> {
    let mut query = Vec::new();
    if let Some(types) = &args.types {
        query.push(format!("types={}", query_value(types)));
    }
    if let Some(instance) = &args.instance {
        query.push(format!("instance={}", query_value(instance)));
    }
    let path = match query.is_empty() {
        true => "/events".to_owned(),
        false => format!("/events?{}", query.join("&")),
    };
    let mut socket = terminal::open(&ctx.client, &path).await?;
    loop {
        let message = tokio::select! {
            message = socket.next() => message,
            _ = tokio::signal::ctrl_c() => return Ok(()),
        };
        match message {
            Some(Ok(Message::Text(text))) => {
                if ctx.format == Format::Json {
                    println!("{text}");
                    continue;
                }
                match serde_json::from_str::<Event>(&text) {
                    Ok(event) => println!("{}", line(&event)),
                    Err(_) => println!("{text}"),
                }
            }
            Some(Ok(Message::Close(_))) | None => bail!("berthd closed the event stream"),
            Some(Ok(_)) => {}
            Some(Err(e)) => return Err(e.into()),
        }
    }
}

/// One readable line: time, type, instance, what happened.
fn line(event: &Event) -> String {
    let time = event.time.format("%Y-%m-%d %H:%M:%S");
    let instance = event.instance.as_deref().unwrap_or("-");
    let what = match &event.data {
        EventData::Operation(op) => {
            let mut text = format!(
                "{} {} {}% {}",
                op.kind.as_str(),
                op.status.as_str(),
                op.progress,
                op.message
            );
            if let Some(error) = &op.error {
                text.push_str(&format!(" (error: {error})"));
            }
            text
        }
        EventData::Lifecycle(l) => {
            let action = serde_json::to_value(l.action)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default();
            let mut text = format!("{action} by {}", l.actor);
            if let Some(object) = &l.object {
                text.push_str(&format!(" ({object})"));
            }
            if let Some(state) = l.state {
                text.push_str(&format!(", now {}", state.as_str()));
            }
            text
        }
        EventData::Metrics(point) => metrics(point),
        EventData::Notice(n) => n.message.clone(),
    };
    format!(
        "{time}  {:<9}  {instance:<20}  {what}",
        event.kind().as_str()
    )
}

fn metrics(point: &serde_json::Value) -> String {
    let mut parts = Vec::new();
    if let Some(cpu) = point["cpu_percent"].as_f64() {
        parts.push(format!("cpu {cpu:.1}%"));
    }
    if let Some(memory) = point["memory_bytes"].as_u64() {
        parts.push(format!("memory {}", format_bytes(memory)));
    }
    if let Some(rx) = point["net_rx_bytes_per_s"].as_f64() {
        parts.push(format!("rx {}/s", format_bytes(rx as u64)));
    }
    if let Some(tx) = point["net_tx_bytes_per_s"].as_f64() {
        parts.push(format!("tx {}/s", format_bytes(tx as u64)));
    }
    if let Some(processes) = point["processes"].as_u64() {
        parts.push(format!("{processes} processes"));
    }
    if parts.is_empty() {
        point.to_string()
    } else {
        parts.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use berth_types::events::{Lifecycle, LifecycleAction};

    #[test]
    fn lines_say_what_happened_and_who_asked() {
        let event = Event::lifecycle(
            "web1",
            "alice",
            Lifecycle {
                action: LifecycleAction::SnapshotCreated,
                actor: "admin".into(),
                state: Some(berth_types::InstanceState::Running),
                object: Some("before".into()),
                reason: None,
            },
        );
        let text = line(&event);
        assert!(text.contains("lifecycle"), "{text}");
        assert!(text.contains("web1"), "{text}");
        assert!(
            text.ends_with("snapshot-created by admin (before), now running"),
            "{text}"
        );
        let sample =
            serde_json::json!({"cpu_percent": 12.5, "memory_bytes": 1048576, "processes": 17});
        assert_eq!(metrics(&sample), "cpu 12.5%, memory 1MiB, 17 processes");
        assert!(line(&Event::dropped(3)).ends_with("3 events were dropped"));
    }
}
