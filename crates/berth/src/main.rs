//! `berth`: the Berth command-line client. Every command is one or a few REST calls; the
//! daemon does the work.

mod client;
mod commands;
mod docs;
mod output;
mod progress;
mod prompt;
mod remotes;
mod terminal;
mod tls;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{CommandFactory, Parser};

use crate::client::Client;
use crate::output::Format;

#[derive(Parser)]
#[command(
    name = "berth",
    version,
    about = "Launch and manage Berth VPS instances"
)]
struct Cli {
    /// The local daemon's socket.
    #[arg(long, env = "BERTH_SOCKET", global = true)]
    socket: Option<PathBuf>,
    /// A remote daemon, `https://HOST:PORT` (after `berth login`) or `http://127.0.0.1:PORT`.
    #[arg(long, env = "BERTH_REMOTE", global = true)]
    remote: Option<String>,
    /// API token for a remote daemon.
    #[arg(long, env = "BERTH_TOKEN", global = true, hide_env_values = true)]
    token: Option<String>,
    /// Output for people (`table`) or scripts (`json`).
    #[arg(long, value_enum, default_value = "table", global = true)]
    format: Format,
    /// No progress bars.
    #[arg(long, short, global = true)]
    quiet: bool,
    #[command(subcommand)]
    command: commands::Command,
}

fn main() -> ExitCode {
    // `berth list | head` must end quietly when the reader goes away, as other Unix tools do,
    // rather than panic in println!.
    // SAFETY: called before any thread exists; SIG_DFL is a valid disposition for SIGPIPE.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let cli = Cli::parse();
    match &cli.command {
        commands::Command::Completion { shell } => {
            docs::completion(Cli::command(), *shell);
            return ExitCode::SUCCESS;
        }
        commands::Command::Manpages { dir } => {
            return match docs::manpages(Cli::command(), dir) {
                Ok(_) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("berth: writing man pages into {}: {e}", dir.display());
                    ExitCode::FAILURE
                }
            };
        }
        _ => {}
    }
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("berth: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        let client = Client::new(cli.socket, cli.remote, cli.token)?;
        let context = commands::Context {
            client,
            format: cli.format,
            quiet: cli.quiet,
        };
        commands::run(&context, cli.command).await
    });
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("berth: {e:#}");
            ExitCode::FAILURE
        }
    }
}
