//! `berth exec NAME -- CMD…` and `berth run IMAGE -- CMD…` (ephemeral instance).

use std::io::{IsTerminal, Read, Write};

use berth_types::api::{
    CreateInstanceRequest, ExecRequest, ExecResponse, OperationEnvelope, PowerRequest,
};
use berth_types::{InstanceName, Limits};
use clap::Args;

use super::Context;
use super::remote_exit::exit_with;
use crate::client::query_value;
use crate::progress;

#[derive(Args)]
pub struct ExecArgs {
    pub name: String,
    /// Run as this guest user (name or uid).
    #[arg(long, short = 'u')]
    pub user: Option<String>,
    /// Seconds before the command is killed.
    #[arg(long)]
    pub timeout: Option<u64>,
    /// Working directory inside the instance.
    #[arg(long)]
    pub cwd: Option<String>,
    /// KEY=VALUE environment for the command (repeatable).
    #[arg(long = "env", short = 'e')]
    pub env: Vec<String>,
    /// Run on a terminal, interactively (Ctrl-] detaches).
    #[arg(long, short = 't')]
    pub tty: bool,
    #[arg(last = true)]
    pub command: Vec<String>,
}

#[derive(Args)]
pub struct RunArgs {
    /// A system image (debian/12: a throwaway instance) or an imported application image
    /// (oci:ALIAS: its entrypoint, with the command replacing its Cmd).
    pub image: String,
    /// Memory for the throwaway instance, e.g. 512MiB.
    #[arg(long)]
    pub memory: Option<String>,
    #[arg(last = true)]
    pub command: Vec<String>,
}

pub async fn exec(ctx: &Context, args: ExecArgs) -> anyhow::Result<()> {
    if args.tty {
        let (rows, cols) = crate::terminal::size();
        let command = serde_json::to_string(&args.command)?;
        let path = format!(
            "/instances/{}/console?mode=exec&rows={rows}&cols={cols}&command={}",
            args.name,
            query_value(&command)
        );
        let code = crate::terminal::attach(&ctx.client, &path).await?;
        return exit_with(code);
    }
    let mut env = std::collections::BTreeMap::new();
    for pair in &args.env {
        let (key, value) = pair
            .split_once('=')
            .ok_or_else(|| anyhow::anyhow!("--env {pair:?}: write KEY=VALUE"))?;
        env.insert(key.to_owned(), value.to_owned());
    }
    let stdin = if std::io::stdin().is_terminal() {
        None
    } else {
        let mut input = String::new();
        std::io::stdin().read_to_string(&mut input)?;
        Some(input).filter(|s| !s.is_empty())
    };
    let request = ExecRequest {
        command: args.command,
        env,
        cwd: args.cwd,
        stdin,
        timeout: args.timeout,
        user: args.user,
    };
    let code = run_in(ctx, &args.name, &request).await?;
    exit_with(code)
}

async fn run_in(ctx: &Context, name: &str, request: &ExecRequest) -> anyhow::Result<i32> {
    let response: ExecResponse = ctx
        .client
        .post(&format!("/instances/{name}/exec"), request)
        .await?;
    std::io::stdout().write_all(response.stdout.as_bytes())?;
    std::io::stderr().write_all(response.stderr.as_bytes())?;
    if response.truncated {
        eprintln!("berth: output was cut at the size cap");
    }
    Ok(response.exit_code)
}

pub async fn run(ctx: &Context, args: RunArgs) -> anyhow::Result<()> {
    let memory = args
        .memory
        .as_deref()
        .map(|m| berth_types::units::parse_bytes(m, "--memory"))
        .transpose()?;
    if args.image.starts_with("oci:") {
        return run_app(ctx, args, memory).await;
    }
    if args.command.is_empty() {
        anyhow::bail!(
            "give the command to run after --: berth run {} -- CMD",
            args.image
        );
    }
    let name = format!("run-{}", InstanceName::generate());
    let request = CreateInstanceRequest {
        name: Some(name.clone()),
        image: Some(args.image),
        limits: Limits {
            memory,
            ..Limits::default()
        },
        start: Some(true),
        ..CreateInstanceRequest::default()
    };
    let envelope: OperationEnvelope = ctx.client.post("/instances", &request).await?;
    let created = progress::follow(&ctx.client, envelope.operation, ctx.quiet).await;
    let result = match created {
        Ok(_) => {
            let exec = ExecRequest {
                command: args.command,
                ..ExecRequest::default()
            };
            run_in(ctx, &name, &exec).await
        }
        Err(e) => Err(e),
    };
    // Always remove the throwaway instance, whatever happened above.
    let removal = async {
        let envelope: OperationEnvelope = ctx
            .client
            .delete(
                &format!("/instances/{name}"),
                &PowerRequest {
                    force: true,
                    timeout: None,
                },
            )
            .await?;
        progress::follow(&ctx.client, envelope.operation, true).await
    }
    .await;
    if let Err(e) = removal {
        eprintln!("berth: removing {name} failed: {e:#}");
    }
    exit_with(result?)
}

/// `berth run oci:ALIAS [-- ARGS…]`: the imported image's entrypoint, once.
async fn run_app(ctx: &Context, args: RunArgs, memory: Option<u64>) -> anyhow::Result<()> {
    let request = berth_types::api::RunRequest {
        image: args.image,
        command: args.command,
        memory,
        ..Default::default()
    };
    let response: ExecResponse = ctx.client.post("/run", &request).await?;
    std::io::stdout().write_all(response.stdout.as_bytes())?;
    std::io::stderr().write_all(response.stderr.as_bytes())?;
    if response.truncated {
        eprintln!("berth: output was cut at the size cap");
    }
    exit_with(response.exit_code)
}
