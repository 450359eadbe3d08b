//! `berth backup create NAME | list NAME | export NAME ID FILE | import FILE [NAME] |
//! restore NAME ID NEW | delete NAME ID`.

use anyhow::Context as _;
use berth_types::api::{Backup, OperationEnvelope};
use berth_types::units::format_bytes;
use clap::Subcommand;
use hyper::Method;
use hyper::body::Bytes;

use super::Context;
use crate::output::{self, Format};
use crate::progress;

#[derive(Subcommand)]
pub enum BackupCommand {
    /// Back an instance up (a running one is frozen only for a snapshot).
    Create {
        name: String,
        /// Include its snapshots.
        #[arg(long)]
        snapshots: bool,
    },
    /// An instance's backups.
    #[command(alias = "ls")]
    List { name: String },
    /// Download a backup to FILE (a .tar.zst).
    Export {
        name: String,
        id: String,
        file: std::path::PathBuf,
    },
    /// Make a new instance from a backup file (named as in the backup, or NAME).
    Import {
        file: std::path::PathBuf,
        name: Option<String>,
    },
    /// Bring a backup back as a new instance NEW (left stopped), without downloading it.
    Restore {
        name: String,
        id: String,
        new: String,
    },
    /// Delete a backup.
    #[command(alias = "rm")]
    Delete { name: String, id: String },
}

pub async fn run(ctx: &Context, command: BackupCommand) -> anyhow::Result<()> {
    match command {
        BackupCommand::Create { name, snapshots } => {
            let envelope: OperationEnvelope = ctx
                .client
                .post(
                    &format!("/instances/{name}/backups"),
                    &berth_types::api::CreateBackupRequest { snapshots },
                )
                .await?;
            let operation = progress::follow(&ctx.client, envelope.operation, ctx.quiet).await?;
            match ctx.format {
                Format::Json => output::json(&operation),
                Format::Table => {
                    println!("Backup of {name} made");
                    Ok(())
                }
            }
        }
        BackupCommand::List { name } => {
            let backups: Vec<Backup> = ctx
                .client
                .get(&format!("/instances/{name}/backups"))
                .await?;
            if ctx.format == Format::Json {
                return output::json(&backups);
            }
            let rows: Vec<Vec<String>> = backups
                .iter()
                .map(|b| {
                    vec![
                        b.id.clone(),
                        b.created_at.format("%Y-%m-%d %H:%M:%S").to_string(),
                        format_bytes(b.size),
                    ]
                })
                .collect();
            output::table(&["ID", "MADE (UTC)", "SIZE"], &rows);
            Ok(())
        }
        BackupCommand::Export { name, id, file } => {
            let (_, _, bytes) = ctx
                .client
                .raw(
                    Method::GET,
                    &format!("/instances/{name}/backups/{id}/export"),
                    "application/json",
                    Bytes::new(),
                )
                .await?;
            std::fs::write(&file, &bytes).with_context(|| format!("writing {}", file.display()))?;
            if ctx.format == Format::Table && !ctx.quiet {
                println!(
                    "Wrote {} ({})",
                    file.display(),
                    format_bytes(bytes.len() as u64)
                );
            }
            Ok(())
        }
        BackupCommand::Import { file, name } => {
            let bytes =
                std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
            let path = match &name {
                Some(name) => format!("/instances?name={name}"),
                None => "/instances".to_owned(),
            };
            let (_, _, answer) = ctx
                .client
                .raw(Method::POST, &path, "application/zstd", Bytes::from(bytes))
                .await?;
            let envelope: OperationEnvelope = serde_json::from_slice(&answer)?;
            let target = envelope.operation.target.clone();
            let operation = progress::follow(&ctx.client, envelope.operation, ctx.quiet).await?;
            match ctx.format {
                Format::Json => output::json(&operation),
                Format::Table => {
                    println!("Instance {target} imported (stopped)");
                    Ok(())
                }
            }
        }
        BackupCommand::Restore { name, id, new } => {
            let envelope: OperationEnvelope = ctx
                .client
                .post(
                    &format!("/instances/{name}/backups/{id}/restore"),
                    &berth_types::api::RestoreBackupRequest { name: new.clone() },
                )
                .await?;
            let operation = progress::follow(&ctx.client, envelope.operation, ctx.quiet).await?;
            match ctx.format {
                Format::Json => output::json(&operation),
                Format::Table => {
                    println!("Backup {id} of {name} restored as {new} (stopped)");
                    Ok(())
                }
            }
        }
        BackupCommand::Delete { name, id } => {
            let _: serde_json::Value = ctx
                .client
                .delete(&format!("/instances/{name}/backups/{id}"), &())
                .await?;
            if ctx.format == Format::Table {
                println!("Backup {id} of {name} deleted");
            }
            Ok(())
        }
    }
}
