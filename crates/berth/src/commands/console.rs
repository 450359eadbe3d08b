//! `berth console NAME [--shell]`: the guest's console (its login prompt), or a root shell of
//! your own, in this terminal (`Ctrl-]` detaches).

use super::Context;
use super::remote_exit::exit_with;
use crate::client::query_value;
use crate::terminal;

pub async fn console(ctx: &Context, name: &str, shell: bool) -> anyhow::Result<()> {
    let (rows, cols) = terminal::size();
    let term = std::env::var("TERM").unwrap_or_else(|_| "xterm-256color".into());
    let mode = if shell { "shell" } else { "console" };
    let path = format!(
        "/instances/{name}/console?mode={mode}&rows={rows}&cols={cols}&term={}",
        query_value(&term)
    );
    if !ctx.quiet {
        eprintln!("Connected to {name}; Ctrl-] detaches.\r");
    }
    let code = terminal::attach(&ctx.client, &path).await?;
    exit_with(code)
}
