//! `berth start | stop | restart | suspend | resume | delete`.

use berth_types::api::{OperationEnvelope, PowerRequest};
use clap::Args;

use super::Context;
use crate::output::{self, Format};
use crate::progress;

#[derive(Args)]
pub struct StopArgs {
    pub name: String,
    /// Kill at once instead of a clean shutdown.
    #[arg(long, short)]
    pub force: bool,
    /// Seconds a clean shutdown may take before the instance is killed.
    #[arg(long)]
    pub timeout: Option<u64>,
}

#[derive(Args)]
pub struct DeleteArgs {
    pub name: String,
    /// Stop a running instance first.
    #[arg(long, short)]
    pub force: bool,
}

pub async fn stop(ctx: &Context, args: StopArgs, verb: &str) -> anyhow::Result<()> {
    power(
        ctx,
        &args.name,
        verb,
        PowerRequest {
            force: args.force,
            timeout: args.timeout,
        },
    )
    .await
}

pub async fn power(
    ctx: &Context,
    name: &str,
    verb: &str,
    request: PowerRequest,
) -> anyhow::Result<()> {
    let envelope: OperationEnvelope = ctx
        .client
        .post(&format!("/instances/{name}/{verb}"), &request)
        .await?;
    finish(ctx, envelope, &format!("{verb}: {name} done")).await
}

pub async fn delete(ctx: &Context, args: DeleteArgs) -> anyhow::Result<()> {
    let request = PowerRequest {
        force: args.force,
        timeout: None,
    };
    let envelope: OperationEnvelope = ctx
        .client
        .delete(&format!("/instances/{}", args.name), &request)
        .await?;
    finish(ctx, envelope, &format!("Instance {} deleted", args.name)).await
}

async fn finish(ctx: &Context, envelope: OperationEnvelope, done: &str) -> anyhow::Result<()> {
    let operation = progress::follow(&ctx.client, envelope.operation, ctx.quiet).await?;
    match ctx.format {
        Format::Json => output::json(&operation),
        Format::Table => {
            if !ctx.quiet {
                println!("{done}");
            }
            Ok(())
        }
    }
}
