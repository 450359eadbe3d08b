//! `berth password NAME [--generate]`: the new password comes from standard input (a prompt
//! without echo on a terminal), never from the command line.

use std::io::{BufRead, IsTerminal, Write};

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
        Some(read_password()?)
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

fn read_password() -> anyhow::Result<String> {
    let stdin = std::io::stdin();
    let tty = stdin.is_terminal();
    let saved = if tty {
        eprint!("New root password: ");
        std::io::stderr().flush()?;
        let mut termios = nix::sys::termios::tcgetattr(&stdin)?;
        let saved = termios.clone();
        termios
            .local_flags
            .remove(nix::sys::termios::LocalFlags::ECHO);
        nix::sys::termios::tcsetattr(&stdin, nix::sys::termios::SetArg::TCSANOW, &termios)?;
        Some(saved)
    } else {
        None
    };
    let mut line = String::new();
    let read = stdin.lock().read_line(&mut line);
    if let Some(saved) = saved {
        nix::sys::termios::tcsetattr(&stdin, nix::sys::termios::SetArg::TCSANOW, &saved)?;
        eprintln!();
    }
    read?;
    Ok(line.trim_end_matches(['\n', '\r']).to_owned())
}
