//! `berth audit [--actor WHO] [--limit N]`: who did what, when, from where (newest first);
//! `berth audit purge --before WHEN` forgets older entries (admins).

use clap::{Args, Subcommand};
use serde_json::Value;

use super::Context;
use crate::output::{self, Format};

#[derive(Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct AuditArgs {
    #[command(subcommand)]
    pub command: Option<AuditCommand>,
    /// Only this actor: a username, or `username/token-name`.
    #[arg(long)]
    pub actor: Option<String>,
    /// At most this many entries.
    #[arg(long, default_value_t = 50)]
    pub limit: u32,
}

#[derive(Subcommand)]
pub enum AuditCommand {
    /// Forget entries older than --before (admins); the purge itself is logged after it.
    Purge(super::purge::PurgeArgs),
}

pub async fn list(ctx: &Context, args: AuditArgs) -> anyhow::Result<()> {
    if let Some(AuditCommand::Purge(purge)) = args.command {
        return super::purge::run(ctx, "audit", purge).await;
    }
    let mut path = format!("/audit?limit={}", args.limit);
    if let Some(actor) = &args.actor {
        path.push_str(&format!("&actor={}", encode(actor)));
    }
    let entries: Vec<Value> = ctx.client.get(&path).await?;
    if ctx.format == Format::Json {
        return output::json(&entries);
    }
    let field = |e: &Value, k: &str| e[k].as_str().unwrap_or("-").to_owned();
    let rows: Vec<Vec<String>> = entries
        .iter()
        .map(|e| {
            vec![
                field(e, "at"),
                field(e, "actor"),
                field(e, "action"),
                field(e, "target"),
                field(e, "ip"),
                field(e, "result"),
            ]
        })
        .collect();
    output::table(
        &["WHEN", "WHO", "ACTION", "TARGET", "FROM", "RESULT"],
        &rows,
    );
    Ok(())
}

/// Percent-encodes a query value.
fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
