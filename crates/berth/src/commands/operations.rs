//! `berth operation list | show | wait | cancel | purge`.

use berth_types::Operation;
use clap::Subcommand;

use super::Context;
use crate::output::{self, Format};

#[derive(Subcommand)]
pub enum OperationCommand {
    /// Recent operations.
    #[command(alias = "ls")]
    List,
    /// One operation with its steps.
    Show { id: String },
    /// Wait for an operation to end.
    Wait {
        id: String,
        #[arg(long)]
        timeout: Option<u64>,
    },
    /// Cancel a running operation, where its step allows it.
    Cancel { id: String },
    /// Forget ended operations older than --before (admins); pending and running ones stay.
    Purge(super::purge::PurgeArgs),
}

pub async fn run(ctx: &Context, command: OperationCommand) -> anyhow::Result<()> {
    let operation: Operation = match command {
        OperationCommand::Purge(args) => return super::purge::run(ctx, "operations", args).await,
        OperationCommand::List => {
            let operations: Vec<Operation> = ctx.client.get("/operations").await?;
            if ctx.format == Format::Json {
                return output::json(&operations);
            }
            let rows: Vec<Vec<String>> = operations
                .iter()
                .map(|o| {
                    vec![
                        o.id.to_string(),
                        o.kind.as_str().to_owned(),
                        o.target.clone(),
                        o.status.as_str().to_owned(),
                        format!("{}%", o.progress),
                        o.created_at.format("%Y-%m-%d %H:%M:%S").to_string(),
                    ]
                })
                .collect();
            output::table(
                &["ID", "KIND", "TARGET", "STATUS", "PROGRESS", "CREATED"],
                &rows,
            );
            return Ok(());
        }
        OperationCommand::Show { id } => ctx.client.get(&format!("/operations/{id}")).await?,
        OperationCommand::Wait { id, timeout } => {
            let query = timeout.map(|t| format!("?timeout={t}")).unwrap_or_default();
            ctx.client
                .get(&format!("/operations/{id}/wait{query}"))
                .await?
        }
        OperationCommand::Cancel { id } => {
            ctx.client.delete(&format!("/operations/{id}"), &()).await?
        }
    };
    if ctx.format == Format::Json {
        return output::json(&operation);
    }
    println!(
        "{} {} {}: {} ({}%)",
        operation.id,
        operation.kind.as_str(),
        operation.target,
        operation.status.as_str(),
        operation.progress
    );
    for step in &operation.steps {
        println!(
            "  {:<10} {:<8} {}",
            step.name,
            format!("{:?}", step.status).to_lowercase(),
            step.message
        );
    }
    if let Some(error) = &operation.error {
        println!("  error: {error}");
    }
    Ok(())
}
