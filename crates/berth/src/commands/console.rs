//! `berth console NAME [--shell]`: the guest's console (its login prompt), or a root shell of
//! your own, in this terminal (`Ctrl-]` detaches).

use super::Context;
use super::exec::ExitWith;
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

/// Passes a remote exit code on as berth's own.
pub fn exit_with(code: i32) -> anyhow::Result<()> {
    match code {
        0 => Ok(()),
        c => Err(ExitWith(u8::try_from(c).unwrap_or(1)).into()),
    }
}

/// Percent-encodes a query value.
pub fn query_value(raw: &str) -> String {
    raw.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}
