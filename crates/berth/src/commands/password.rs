//! `berth password NAME [--generate]`: the new password comes from standard input (a prompt
//! without echo on a terminal), never from the command line. `berth ssh-keys NAME --ssh-key
//! FILE…` replaces root's SSH keys with the keys in the files.

use std::path::PathBuf;

use berth_types::api::{PasswordRequest, PasswordResponse, SshKeysRequest};
use clap::Args;

use super::Context;
use crate::output::{self, Format};

#[derive(Args)]
pub struct PasswordArgs {
    pub name: String,
    /// Generate a password and print it once.
    #[arg(long)]
    pub generate: bool,
}

#[derive(Args)]
pub struct SshKeysArgs {
    pub name: String,
    /// A file of OpenSSH public keys (one a line, `#` comments); repeat for more. None:
    /// root's keys are removed.
    #[arg(long = "ssh-key", value_name = "FILE")]
    pub ssh_keys: Vec<PathBuf>,
}

/// The keys in `files`: non-empty lines that are not comments.
pub fn read_keys(files: &[PathBuf]) -> anyhow::Result<Vec<String>> {
    let mut keys = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(file)
            .map_err(|e| anyhow::anyhow!("--ssh-key {}: {e}", file.display()))?;
        keys.extend(
            text.lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
                .map(str::to_owned),
        );
    }
    Ok(keys)
}

pub async fn ssh_keys(ctx: &Context, args: SshKeysArgs) -> anyhow::Result<()> {
    let request = SshKeysRequest {
        ssh_keys: read_keys(&args.ssh_keys)?,
    };
    let count = request.ssh_keys.len();
    let _: serde_json::Value = ctx
        .client
        .put(&format!("/instances/{}/ssh-keys", args.name), &request)
        .await?;
    match ctx.format {
        Format::Json => output::json(&serde_json::json!({"ssh_keys": count})),
        Format::Table => {
            println!("Root of {} now has {count} SSH key(s)", args.name);
            Ok(())
        }
    }
}

pub async fn set(ctx: &Context, args: PasswordArgs) -> anyhow::Result<()> {
    let password = if args.generate {
        None
    } else {
        Some(crate::prompt::secret("New root password")?)
    };
    let request = PasswordRequest {
        password,
        generate: args.generate,
    };
    let response: PasswordResponse = ctx
        .client
        .post(&format!("/instances/{}/password", args.name), &request)
        .await?;
    match (ctx.format, response.password) {
        (Format::Json, password) => output::json(&serde_json::json!({"password": password})),
        (Format::Table, Some(password)) => {
            println!(
                "New root password for {} (shown once): {password}",
                args.name
            );
            Ok(())
        }
        (Format::Table, None) => {
            println!("Root password of {} changed", args.name);
            Ok(())
        }
    }
}
