//! `berth token list | create | revoke`: API tokens for scripts (`BERTH_TOKEN`).

use anyhow::{Context as _, bail};
use clap::Subcommand;
use serde_json::{Value, json};

use super::Context;
use crate::output::{self, Format};

#[derive(Subcommand)]
pub enum TokenCommand {
    /// Your tokens (an admin: everyone's), without their secrets.
    #[command(alias = "ls")]
    List,
    /// Make a token; its secret is printed this once.
    Create {
        name: String,
        /// It may only read.
        #[arg(long)]
        read_only: bool,
        /// When it stops working, e.g. `30d`, `12h`.
        #[arg(long)]
        expires_in: Option<String>,
    },
    /// Revoke a token by its name or id (or a unique prefix of the id).
    #[command(alias = "rm")]
    Revoke {
        /// (Not `token`: that is the global `--token` flag's name.)
        #[arg(value_name = "TOKEN")]
        which: String,
    },
}

pub async fn run(ctx: &Context, command: TokenCommand) -> anyhow::Result<()> {
    match command {
        TokenCommand::List => {
            let tokens: Vec<Value> = ctx.client.get("/tokens").await?;
            if ctx.format == Format::Json {
                return output::json(&tokens);
            }
            let field = |t: &Value, k: &str| t[k].as_str().unwrap_or("-").to_owned();
            let rows: Vec<Vec<String>> = tokens
                .iter()
                .map(|t| {
                    vec![
                        field(t, "id"),
                        field(t, "name"),
                        field(t, "scope"),
                        field(t, "expires_at"),
                        field(t, "last_used_at"),
                    ]
                })
                .collect();
            output::table(&["ID", "NAME", "SCOPE", "EXPIRES", "LAST USED"], &rows);
            Ok(())
        }
        TokenCommand::Create {
            name,
            read_only,
            expires_in,
        } => {
            let mut request =
                json!({"name": name, "scope": if read_only { "read_only" } else { "full" }});
            if let Some(expires_in) = expires_in {
                request["expires_in"] = json!(expires_in);
            }
            let created: Value = ctx.client.post("/tokens", &request).await?;
            match ctx.format {
                Format::Json => output::json(&created),
                Format::Table => {
                    let secret = created["secret"]
                        .as_str()
                        .context("berthd's answer has no secret")?;
                    println!("Token {name} (shown once; use it as BERTH_TOKEN):\n{secret}");
                    Ok(())
                }
            }
        }
        TokenCommand::Revoke { which } => {
            let tokens: Vec<Value> = ctx.client.get("/tokens").await?;
            let matching: Vec<&Value> = tokens
                .iter()
                .filter(|t| {
                    t["name"] == which.as_str()
                        || t["id"].as_str().is_some_and(|id| id.starts_with(&which))
                })
                .collect();
            let id = match matching.as_slice() {
                [one] => one["id"].as_str().unwrap_or_default().to_owned(),
                [] => bail!("no token {which}; `berth token list` shows them"),
                _ => bail!("{which} matches several tokens; give more of the id"),
            };
            let _: Value = ctx.client.delete(&format!("/tokens/{id}"), &()).await?;
            match ctx.format {
                Format::Json => output::json(&json!({"revoked": id})),
                Format::Table => {
                    println!("Revoked {which}");
                    Ok(())
                }
            }
        }
    }
}
