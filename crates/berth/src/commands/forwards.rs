//! `berth forward add NAME [ADDR:]HOSTPORT[-END]:PORT[/tcp|udp] | list NAME | remove NAME ID`.

use anyhow::bail;
use berth_types::Forward;
use berth_types::api::CreateForwardRequest;
use clap::Subcommand;

use super::Context;
use crate::output::{self, Format};

#[derive(Subcommand)]
pub enum ForwardCommand {
    /// Forward a host port (or range) to an instance: 2222:22, 127.0.0.1:2222:22, 5353:53/udp.
    Add {
        name: String,
        /// `[ADDR:]HOSTPORT[-END]:PORT[/tcp|udp]`
        spec: String,
    },
    /// An instance's forwards.
    #[command(alias = "ls")]
    List { name: String },
    /// Remove a forward by its id (or a unique prefix of it).
    #[command(alias = "rm")]
    Remove { name: String, id: String },
}

pub async fn run(ctx: &Context, command: ForwardCommand) -> anyhow::Result<()> {
    match command {
        ForwardCommand::Add { name, spec } => {
            let request = parse_spec(&spec)?;
            let forward: Forward = ctx
                .client
                .post(&format!("/instances/{name}/forwards"), &request)
                .await?;
            match ctx.format {
                Format::Json => output::json(&forward),
                Format::Table => {
                    println!(
                        "{} → {name}:{}/{} (id {})",
                        forward.listen, forward.port, forward.protocol, forward.id
                    );
                    Ok(())
                }
            }
        }
        ForwardCommand::List { name } => {
            let forwards = list(ctx, &name).await?;
            if ctx.format == Format::Json {
                return output::json(&forwards);
            }
            let rows: Vec<Vec<String>> = forwards
                .iter()
                .map(|f| {
                    vec![
                        f.id.clone(),
                        f.listen.clone(),
                        f.port.to_string(),
                        f.protocol.clone(),
                    ]
                })
                .collect();
            output::table(&["ID", "LISTEN", "PORT", "PROTOCOL"], &rows);
            Ok(())
        }
        ForwardCommand::Remove { name, id } => {
            let forwards = list(ctx, &name).await?;
            let matching: Vec<&Forward> =
                forwards.iter().filter(|f| f.id.starts_with(&id)).collect();
            let forward = match matching.as_slice() {
                [one] => *one,
                [] => bail!(
                    "instance {name} has no forward {id}; `berth forward list {name}` shows them"
                ),
                _ => bail!("{id} matches several forwards of {name}; give more of the id"),
            };
            let _: serde_json::Value = ctx
                .client
                .delete(&format!("/instances/{name}/forwards/{}", forward.id), &())
                .await?;
            if ctx.format == Format::Table {
                println!("Removed forward {} of {name}", forward.listen);
            }
            Ok(())
        }
    }
}

async fn list(ctx: &Context, name: &str) -> anyhow::Result<Vec<Forward>> {
    ctx.client.get(&format!("/instances/{name}/forwards")).await
}

/// Splits `[ADDR:]HOSTPORT[-END]:PORT[/tcp|udp]` into the request; berthd validates the parts.
fn parse_spec(spec: &str) -> anyhow::Result<CreateForwardRequest> {
    let (rest, protocol) = match spec.rsplit_once('/') {
        Some((rest, protocol)) => (rest, Some(protocol.to_owned())),
        None => (spec, None),
    };
    let Some((listen, port)) = rest.rsplit_once(':') else {
        bail!("forward {spec:?} has no guest port; use [ADDR:]HOSTPORT[-END]:PORT[/tcp|udp]");
    };
    let Ok(port) = port.parse::<u16>() else {
        bail!("forward {spec:?}: guest port {port:?} is not 1-65535");
    };
    Ok(CreateForwardRequest {
        listen: listen.to_owned(),
        port,
        protocol,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_split_into_their_parts() -> anyhow::Result<()> {
        let r = parse_spec("127.0.0.1:2222:22")?;
        assert_eq!(
            (r.listen.as_str(), r.port, r.protocol),
            ("127.0.0.1:2222", 22, None)
        );
        let r = parse_spec("5353:53/udp")?;
        assert_eq!((r.listen.as_str(), r.port), ("5353", 53));
        assert_eq!(r.protocol.as_deref(), Some("udp"));
        let r = parse_spec("[2001:db8::1]:80:8080/tcp")?;
        assert_eq!((r.listen.as_str(), r.port), ("[2001:db8::1]:80", 8080));
        assert!(parse_spec("2222").is_err());
        assert!(parse_spec("2222:99999").is_err());
        Ok(())
    }
}
