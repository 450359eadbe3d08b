//! Following an operation to its end, as a progress bar on a terminal.

use std::io::IsTerminal;
use std::time::Duration;

use anyhow::bail;
use berth_types::{Operation, OperationStatus};
use indicatif::{ProgressBar, ProgressStyle};

use crate::client::Client;

/// Polls the operation until it ends, showing its progress and current step's message.
/// Fails with the operation's error when it does not succeed.
pub async fn follow(
    client: &Client,
    operation: Operation,
    quiet: bool,
) -> anyhow::Result<Operation> {
    let bar = if quiet || !std::io::stderr().is_terminal() {
        ProgressBar::hidden()
    } else {
        let bar = ProgressBar::new(100);
        bar.set_style(
            ProgressStyle::with_template("{spinner} [{bar:30}] {pos:>3}% {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        bar.enable_steady_tick(Duration::from_millis(120));
        bar
    };
    let path = format!("/operations/{}", operation.id);
    let mut current = operation;
    while !current.status.is_final() {
        bar.set_position(current.progress.into());
        bar.set_message(current.message.clone());
        tokio::time::sleep(Duration::from_millis(150)).await;
        current = client.get(&path).await?;
    }
    bar.finish_and_clear();
    match current.status {
        OperationStatus::Success => Ok(current),
        OperationStatus::Cancelled => bail!("operation {} was cancelled", current.id),
        _ => bail!(
            "{}",
            current
                .error
                .clone()
                .unwrap_or_else(|| format!("operation {} failed", current.id))
        ),
    }
}
