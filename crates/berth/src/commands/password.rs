//! `berth password NAME [--generate]`: the new password comes from standard input (a prompt
//! without echo on a terminal), never from the command line.

use berth_types::api::{PasswordRequest, PasswordResponse};
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
