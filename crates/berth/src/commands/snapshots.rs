//! `berth snapshot create NAME [SNAP] | list NAME | restore NAME SNAP | delete NAME SNAP`.

use berth_types::api::OperationEnvelope;
use berth_types::snapshot::{CreateSnapshotRequest, Snapshot};
use berth_types::units::format_bytes;
use clap::Subcommand;

use super::Context;
use crate::output::{self, Format};
use crate::progress;

#[derive(Subcommand)]
pub enum SnapshotCommand {
    /// Snapshot an instance (a running one is frozen for the copy).
    Create {
        name: String,
        /// Snapshot name; snap0, snap1, … when left out.
        snapshot: Option<String>,
    },
    /// An instance's snapshots.
    #[command(alias = "ls")]
    List { name: String },
    /// Put an instance back to a snapshot (a running one is stopped and started again).
    Restore { name: String, snapshot: String },
    /// Delete a snapshot.
    #[command(alias = "rm")]
    Delete { name: String, snapshot: String },
}

pub async fn run(ctx: &Context, command: SnapshotCommand) -> anyhow::Result<()> {
    match command {
        SnapshotCommand::Create { name, snapshot } => {
            let envelope: OperationEnvelope = ctx
                .client
                .post(
                    &format!("/instances/{name}/snapshots"),
                    &CreateSnapshotRequest { name: snapshot },
                )
                .await?;
            let operation = progress::follow(&ctx.client, envelope.operation, ctx.quiet).await?;
            let taken = operation.steps.first().map(|s| s.message.clone());
            match ctx.format {
                Format::Json => output::json(&operation),
                Format::Table => {
                    println!("{}", taken.unwrap_or_else(|| "snapshot taken".into()));
                    Ok(())
                }
            }
        }
        SnapshotCommand::List { name } => {
            let snapshots: Vec<Snapshot> = ctx
                .client
                .get(&format!("/instances/{name}/snapshots"))
                .await?;
            if ctx.format == Format::Json {
                return output::json(&snapshots);
            }
            let rows: Vec<Vec<String>> = snapshots
                .iter()
                .map(|s| {
                    vec![
                        s.name.clone(),
                        s.created_at.format("%Y-%m-%d %H:%M:%S").to_string(),
                        s.size.map(format_bytes).unwrap_or_else(|| "-".into()),
                        if s.scheduled { "scheduled" } else { "manual" }.into(),
                        s.expires_at
                            .map(|t| t.format("%Y-%m-%d %H:%M").to_string())
                            .unwrap_or_else(|| "-".into()),
                    ]
                })
                .collect();
            output::table(&["NAME", "TAKEN (UTC)", "SIZE", "KIND", "EXPIRES"], &rows);
            Ok(())
        }
        SnapshotCommand::Restore { name, snapshot } => {
            let envelope: OperationEnvelope = ctx
                .client
                .post(
                    &format!("/instances/{name}/snapshots/{snapshot}/restore"),
                    &(),
                )
                .await?;
            let operation = progress::follow(&ctx.client, envelope.operation, ctx.quiet).await?;
            match ctx.format {
                Format::Json => output::json(&operation),
                Format::Table => {
                    println!("Instance {name} restored to {snapshot}");
                    Ok(())
                }
            }
        }
        SnapshotCommand::Delete { name, snapshot } => {
            let _: serde_json::Value = ctx
                .client
                .delete(&format!("/instances/{name}/snapshots/{snapshot}"), &())
                .await?;
            if ctx.format == Format::Table {
                println!("Snapshot {snapshot} of {name} deleted");
            }
            Ok(())
        }
    }
}
