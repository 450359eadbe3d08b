//! The commands, one module per resource.

mod alerts;
mod audit;
mod backups;
mod console;
mod events;
mod exec;
mod files;
mod forwards;
mod images;
mod instances;
mod list;
mod login;
mod metrics;
mod network;
mod operations;
mod password;
mod power;
mod purge;
mod remote_exit;
mod settings;
mod snapshots;
mod system;
mod tokens;
mod usage;
mod users;

use clap::Subcommand;

use crate::client::Client;
use crate::output::Format;

pub struct Context {
    pub client: Client,
    pub format: Format,
    pub quiet: bool,
}

#[derive(Subcommand)]
pub enum Command {
    /// Create and start an instance from an image.
    Launch(instances::LaunchArgs),
    /// Create an instance from an image without starting it (`launch` = create + start).
    Create(instances::LaunchArgs),
    /// List instances (filters: a name glob, --state, --owner, --backend; --columns).
    #[command(alias = "ls")]
    List(list::ListArgs),
    /// Show one instance.
    Info { name: String },
    /// Start a stopped instance.
    Start { name: String },
    /// Stop an instance (clean shutdown; --force kills).
    Stop(power::StopArgs),
    /// Restart an instance.
    Restart(power::StopArgs),
    /// Freeze every process of an instance.
    Suspend { name: String },
    /// Thaw a suspended instance.
    Resume { name: String },
    /// Delete an instance (--force stops it first).
    #[command(alias = "rm")]
    Delete(power::DeleteArgs),
    /// Change limits or autostart.
    Set(instances::SetArgs),
    /// Set root's password (read from standard input), or generate one with --generate.
    Password(password::PasswordArgs),
    /// Replace root's SSH keys with those in the --ssh-key files (none: remove them).
    SshKeys(password::SshKeysArgs),
    /// Run a command in an instance; its exit code becomes berth's.
    Exec(exec::ExecArgs),
    /// The instance's console (its login prompt) in this terminal; --shell for a root shell
    /// of your own. Ctrl-] detaches.
    Console {
        name: String,
        #[arg(long)]
        shell: bool,
    },
    /// Launch a throwaway instance, run a command in it, print, delete it.
    Run(exec::RunArgs),
    /// Copy files into and out of an instance.
    #[command(subcommand)]
    File(files::FileCommand),
    /// Backups: make, list, download, import, delete.
    #[command(subcommand)]
    Backup(backups::BackupCommand),
    /// Snapshots of an instance.
    #[command(subcommand, alias = "snap")]
    Snapshot(snapshots::SnapshotCommand),
    /// Port forwards from the host to an instance.
    #[command(subcommand)]
    Forward(forwards::ForwardCommand),
    /// The host bridge, its subnets and IPv6 uplink; `network ipv6 MODE` sets the uplink.
    Network {
        #[command(subcommand)]
        command: Option<network::NetworkCommand>,
    },
    /// The image library.
    #[command(subcommand)]
    Image(images::ImageCommand),
    /// Operations (long actions).
    #[command(subcommand, alias = "op")]
    Operation(operations::OperationCommand),
    /// Host, storage, kernel capabilities and backends.
    System,
    /// Log in to a remote berthd: makes an API token and saves it (0600) with the pinned
    /// certificate; the remote becomes the default.
    Login(login::LoginArgs),
    /// Revoke the saved token of a remote and forget it.
    Logout(login::LogoutArgs),
    /// Who berthd takes you for, and your usage against your quota.
    Whoami,
    /// Accounts and quotas (admins); `user passwd` changes your own password.
    #[command(subcommand)]
    User(users::UserCommand),
    /// API tokens for scripts.
    #[command(subcommand)]
    Token(tokens::TokenCommand),
    /// The audit log: who did what, when, from where.
    Audit(audit::AuditArgs),
    /// Defaults for new instances and metrics preferences; `settings set …` changes them.
    Settings {
        #[command(subcommand)]
        command: Option<settings::SettingsCommand>,
    },
    /// Follow live events (operations, lifecycle, metrics) until Ctrl-C.
    Events(events::EventsArgs),
    /// An instance's (or with --system the host's) metrics history.
    Metrics(metrics::MetricsArgs),
    /// Alert rules, alert events and the test email.
    #[command(subcommand)]
    Alert(alerts::AlertCommand),
    /// Print a shell completion script: `berth completion bash > /etc/bash_completion.d/berth`.
    Completion {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Write man pages (berth.1 and one per command) into DIR.
    #[command(hide = true)]
    Manpages { dir: std::path::PathBuf },
}

/// Runs a command and returns the process exit code.
pub async fn run(ctx: &Context, command: Command) -> anyhow::Result<u8> {
    match command {
        Command::Launch(args) => instances::launch(ctx, args).await,
        Command::Create(mut args) => {
            args.no_start = true;
            instances::launch(ctx, args).await
        }
        Command::List(args) => list::list(ctx, args).await,
        Command::Info { name } => instances::info(ctx, &name).await,
        Command::Start { name } => power::power(ctx, &name, "start", Default::default()).await,
        Command::Stop(args) => power::stop(ctx, args, "stop").await,
        Command::Restart(args) => power::stop(ctx, args, "restart").await,
        Command::Suspend { name } => power::power(ctx, &name, "suspend", Default::default()).await,
        Command::Resume { name } => power::power(ctx, &name, "resume", Default::default()).await,
        Command::Delete(args) => power::delete(ctx, args).await,
        Command::Set(args) => instances::set(ctx, args).await,
        Command::Password(args) => password::set(ctx, args).await,
        Command::SshKeys(args) => password::ssh_keys(ctx, args).await,
        Command::Exec(args) => exec::exec(ctx, args).await,
        Command::Run(args) => exec::run(ctx, args).await,
        Command::Console { name, shell } => console::console(ctx, &name, shell).await,
        Command::File(command) => files::run(ctx, command).await,
        Command::Snapshot(command) => snapshots::run(ctx, command).await,
        Command::Backup(command) => backups::run(ctx, command).await,
        Command::Forward(command) => forwards::run(ctx, command).await,
        Command::Network { command } => network::run(ctx, command).await,
        Command::Image(command) => images::run(ctx, command).await,
        Command::Operation(command) => operations::run(ctx, command).await,
        Command::System => system::show(ctx).await,
        Command::Login(args) => login::login(ctx, args).await,
        Command::Logout(args) => login::logout(ctx, args).await,
        Command::Whoami => login::whoami(ctx).await,
        Command::User(command) => users::run(ctx, command).await,
        Command::Token(command) => tokens::run(ctx, command).await,
        Command::Audit(args) => audit::list(ctx, args).await,
        Command::Settings { command } => settings::run(ctx, command).await,
        Command::Events(args) => events::follow(ctx, args).await,
        Command::Metrics(args) => metrics::show(ctx, args).await,
        Command::Alert(command) => alerts::run(ctx, command).await,
        // Answered in main, without a daemon.
        Command::Completion { .. } | Command::Manpages { .. } => Ok(()),
    }
    .map(|()| 0)
    .or_else(|e| match e.downcast::<remote_exit::ExitWith>() {
        Ok(exit) => Ok(exit.0),
        Err(e) => Err(e),
    })
}
