//! `berthd`: the Berth daemon. Thin: parse arguments, load configuration, serve the app.
//! `berthd shim` is the hidden per-instance supervisor (and enter helper) of the local backends.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};

/// After the server stopped, how long leftover background work may run before the process exits.
const EXIT_GRACE: Duration = Duration::from_secs(2);

#[derive(Parser)]
#[command(
    name = "berthd",
    version,
    about = "The Berth daemon: REST API, operations and runtimes"
)]
struct Args {
    /// Configuration file (default /etc/berth/berth.toml; defaults apply when it is absent).
    #[arg(long, env = "BERTH_CONFIG", global = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the API (the default).
    Serve,
    /// Print the OpenAPI description.
    Openapi,
    /// Check the configuration and print it.
    CheckConfig,
    /// Per-instance supervisor (internal).
    #[command(hide = true, disable_help_flag = true)]
    Shim {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<std::ffi::OsString>,
    },
    /// Userspace WireGuard device for the IPv6 uplink (internal).
    #[command(hide = true, name = "uplink-wg")]
    UplinkWg { ifname: String },
    /// Supervisor of the host's lxcfs, mounted under DIR (internal).
    #[command(hide = true)]
    Lxcfs { dir: PathBuf },
}

fn main() -> ExitCode {
    let args = Args::parse();
    match args.command.unwrap_or(Command::Serve) {
        // Before any thread exists: libcontainer forks.
        Command::Shim { args } => ExitCode::from(berth_runtime::shim::main(args) as u8),
        Command::UplinkWg { ifname } => match berth_net::wgdevice::run_userspace_device(&ifname) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("berthd uplink-wg: {e}");
                ExitCode::FAILURE
            }
        },
        Command::Lxcfs { dir } => {
            use berth_isolation::lxcfs::{Lxcfs, supervise};
            match supervise::program().and_then(|p| supervise::run(&Lxcfs::new(dir), &p)) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("berthd lxcfs: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Openapi => {
            println!("{}", berthd::api::openapi::json());
            ExitCode::SUCCESS
        }
        Command::CheckConfig => {
            match berthd::config::Config::load(args.config.as_deref(), std::env::vars()) {
                Ok(config) => {
                    println!("{config:#?}");
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("berthd: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Serve => serve(args.config),
    }
}

fn serve(config_path: Option<PathBuf>) -> ExitCode {
    // Before any thread exists (logging's and the runtime's).
    let arenas_capped = berthd::host::memory::tune_allocator();
    let config = match berthd::config::Config::load(config_path.as_deref(), std::env::vars()) {
        Ok(config) => config,
        Err(e) => {
            berthd::logging::init();
            eprintln!("berthd: configuration: {e}");
            return ExitCode::from(2);
        }
    };
    berthd::logging::init_with(&config.log);
    if !arenas_capped {
        tracing::debug!("the allocator's arena count is its default (not glibc, or it refused)");
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("berthd: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(berthd::server::run(config));
    // Work still running (a blocking read of a guest's terminal, a task that ignores the stop)
    // must not keep the process alive: SIGTERM ends berthd in bounded time.
    runtime.shutdown_timeout(EXIT_GRACE);
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %format!("{e:#}"), "berthd stopped");
            eprintln!("berthd: {e:#}");
            ExitCode::FAILURE
        }
    }
}
