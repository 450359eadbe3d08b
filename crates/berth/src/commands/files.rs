//! `berth file push LOCAL NAME/PATH` and `berth file pull NAME/PATH [LOCAL|-]`.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context as _, bail};
use berth_types::api::FileListing;
use clap::Subcommand;
use hyper::Method;
use hyper::body::Bytes;

use super::Context;
use crate::output::{self, Format};

#[derive(Subcommand)]
pub enum FileCommand {
    /// Copy a local file into an instance: berth file push notes.txt web1/root/notes.txt
    Push {
        local: PathBuf,
        /// NAME/PATH in the guest.
        target: String,
        /// Octal permission bits.
        #[arg(long, default_value = "0644")]
        mode: String,
        #[arg(long, default_value_t = 0)]
        uid: u32,
        #[arg(long, default_value_t = 0)]
        gid: u32,
    },
    /// Copy a file out of an instance (to LOCAL, `-` for standard output; default: its name
    /// in the current directory). A directory prints its entries.
    Pull {
        /// NAME/PATH in the guest.
        source: String,
        local: Option<PathBuf>,
    },
}

pub async fn run(ctx: &Context, command: FileCommand) -> anyhow::Result<()> {
    match command {
        FileCommand::Push {
            local,
            target,
            mode,
            uid,
            gid,
        } => {
            let (name, path) = split(&target)?;
            if u32::from_str_radix(&mode, 8).map_or(true, |m| m > 0o7777) {
                bail!("--mode {mode:?} is not octal permission bits such as 0644");
            }
            // A guest has 65,536 ids (0-65535); berthd refuses others by name too, but before
            // reading the body, which an upload would then write into a closed connection.
            for (flag, id) in [("--uid", uid), ("--gid", gid)] {
                if id > 65_535 {
                    bail!("{flag} {id} is not one of the guest's ids (0-65535)");
                }
            }
            let bytes =
                std::fs::read(&local).with_context(|| format!("reading {}", local.display()))?;
            let len = bytes.len();
            let url = format!(
                "/instances/{name}/files?path={}&mode={}&uid={uid}&gid={gid}",
                encode(&path),
                encode(&mode)
            );
            ctx.client
                .raw(
                    Method::POST,
                    &url,
                    "application/octet-stream",
                    Bytes::from(bytes),
                )
                .await?;
            if ctx.format == Format::Table && !ctx.quiet {
                println!("Pushed {len} bytes to {name}:{path}");
            }
            Ok(())
        }
        FileCommand::Pull { source, local } => {
            let (name, path) = split(&source)?;
            let url = format!("/instances/{name}/files?path={}", encode(&path));
            let (_, headers, bytes) = ctx
                .client
                .raw(Method::GET, &url, "application/json", Bytes::new())
                .await?;
            if headers.get("x-berth-type").and_then(|v| v.to_str().ok()) == Some("directory") {
                let listing: FileListing = serde_json::from_slice(&bytes)?;
                if ctx.format == Format::Json {
                    return output::json(&listing);
                }
                for entry in listing.entries {
                    println!("{entry}");
                }
                return Ok(());
            }
            let local = local
                .unwrap_or_else(|| PathBuf::from(path.rsplit('/').next().unwrap_or("download")));
            if local.as_os_str() == "-" {
                std::io::stdout().write_all(&bytes)?;
                return Ok(());
            }
            std::fs::write(&local, &bytes)
                .with_context(|| format!("writing {}", local.display()))?;
            if ctx.format == Format::Table && !ctx.quiet {
                println!("Pulled {} bytes to {}", bytes.len(), local.display());
            }
            Ok(())
        }
    }
}

/// `web1/etc/hostname` → (`web1`, `/etc/hostname`).
fn split(target: &str) -> anyhow::Result<(String, String)> {
    match target.split_once('/') {
        Some((name, path)) if !name.is_empty() && !path.is_empty() => {
            Ok((name.to_owned(), format!("/{path}")))
        }
        _ => bail!("{target:?} is not NAME/PATH, e.g. web1/etc/hostname"),
    }
}

/// Percent-encodes a query value (everything but unreserved characters and `/`).
fn encode(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    for byte in raw.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~/".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_split_and_paths_encode() -> anyhow::Result<()> {
        assert_eq!(
            split("web1/etc/hostname")?,
            ("web1".into(), "/etc/hostname".into())
        );
        assert!(split("web1").is_err() && split("/etc").is_err() && split("web1/").is_err());
        assert_eq!(encode("/a b/ü&x=1"), "/a%20b/%C3%BC%26x%3D1");
        Ok(())
    }
}
