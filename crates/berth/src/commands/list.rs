//! `berth list`: the instances, narrowed by state, owner, backend and a name glob, in the
//! columns asked for.

use berth_types::Instance;
use berth_types::units::format_bytes;
use clap::Args;

use super::Context;
use super::instances::state_text;
use crate::output::{self, Format};

/// The columns `--columns` may name, in the default order.
const COLUMNS: &[&str] = &[
    "name",
    "state",
    "image",
    "ipv4",
    "cpu",
    "memory",
    "disk",
    "backend",
    "ipv6",
    "owner",
    "node",
    "vmid",
    "created",
    "autostart",
];
const DEFAULT_COLUMNS: &str = "name,state,image,ipv4,cpu,memory,disk,backend";

#[derive(Args, Default)]
pub struct ListArgs {
    /// Only names matching this glob (`*` any run of characters, `?` one), e.g. 'web-*'.
    pub name: Option<String>,
    /// Only instances in this state (running, stopped, suspended, …).
    #[arg(long)]
    pub state: Option<String>,
    /// Only instances of this owner.
    #[arg(long)]
    pub owner: Option<String>,
    /// Only instances on this backend.
    #[arg(long)]
    pub backend: Option<String>,
    /// Comma-separated columns: name, state, image, ipv4, cpu, memory, disk, backend, ipv6,
    /// owner, node, vmid (proxmox), created, autostart.
    #[arg(long, default_value = DEFAULT_COLUMNS)]
    pub columns: String,
}

impl ListArgs {
    fn keeps(&self, instance: &Instance) -> bool {
        self.name
            .as_deref()
            .is_none_or(|glob| berth_types::name::glob_matches(glob, &instance.name))
            && self
                .state
                .as_deref()
                .is_none_or(|s| instance.state.as_str() == s)
            && self.owner.as_deref().is_none_or(|o| instance.owner == o)
            && self
                .backend
                .as_deref()
                .is_none_or(|b| instance.backend == b)
    }

    fn columns(&self) -> anyhow::Result<Vec<&str>> {
        let columns: Vec<&str> = self.columns.split(',').map(str::trim).collect();
        for column in &columns {
            if !COLUMNS.contains(column) {
                anyhow::bail!(
                    "--columns: there is no column {column:?}; choose from {}",
                    COLUMNS.join(", ")
                );
            }
        }
        Ok(columns)
    }
}

pub async fn list(ctx: &Context, args: ListArgs) -> anyhow::Result<()> {
    let columns = args.columns()?;
    let instances = fetch(ctx, &args).await?;
    // The server filters too; filtering again keeps the answer right with an older berthd.
    let instances: Vec<Instance> = instances.into_iter().filter(|i| args.keeps(i)).collect();
    if ctx.format == Format::Json {
        return output::json(&instances);
    }
    let rows: Vec<Vec<String>> = instances
        .iter()
        .map(|i| columns.iter().map(|c| cell(i, c)).collect())
        .collect();
    let header: Vec<String> = columns.iter().map(|c| c.to_uppercase()).collect();
    let header: Vec<&str> = header.iter().map(String::as_str).collect();
    output::table(&header, &rows);
    Ok(())
}

/// Instances per request while paging.
const PAGE: usize = 1000;

/// Every instance the filters keep, a page at a time: the server filters, and its
/// `X-Next-Cursor` says where the next page starts.
async fn fetch(ctx: &Context, args: &ListArgs) -> anyhow::Result<Vec<Instance>> {
    let mut filters = vec![("limit", PAGE.to_string())];
    for (key, value) in [
        ("state", &args.state),
        ("owner", &args.owner),
        ("backend", &args.backend),
        ("name", &args.name),
    ] {
        if let Some(value) = value {
            filters.push((key, value.clone()));
        }
    }
    let mut out: Vec<Instance> = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let mut query = filters.clone();
        if let Some(after) = &after {
            query.push(("after", after.clone()));
        }
        let path = format!("/instances?{}", encode(&query));
        let (_, headers, bytes) = ctx
            .client
            .raw(
                hyper::Method::GET,
                &path,
                "application/json",
                Default::default(),
            )
            .await?;
        let page: Vec<Instance> = serde_json::from_slice(&bytes).map_err(|e| {
            anyhow::anyhow!("berthd sent an instance list this berth cannot read: {e}")
        })?;
        let next = headers
            .get("x-next-cursor")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        out.extend(page);
        // An older berthd ignores `limit` and sends everything, with no cursor.
        match next {
            Some(next) if after.as_deref() != Some(next.as_str()) => after = Some(next),
            _ => return Ok(out),
        }
    }
}

/// `key=value&…`, each value percent-encoded.
fn encode(pairs: &[(&str, String)]) -> String {
    pairs
        .iter()
        .map(|(key, value)| {
            let value: String = value
                .bytes()
                .map(|b| match b {
                    b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'*' => {
                        (b as char).to_string()
                    }
                    _ => format!("%{b:02X}"),
                })
                .collect();
            format!("{key}={value}")
        })
        .collect::<Vec<_>>()
        .join("&")
}

fn cell(i: &Instance, column: &str) -> String {
    let dash = || "-".to_owned();
    match column {
        "name" => i.name.clone(),
        "state" => state_text(i),
        "image" => i.image.clone(),
        "ipv4" => i.network.ipv4.clone().unwrap_or_else(dash),
        "ipv6" => i.network.ipv6.clone().unwrap_or_else(dash),
        "cpu" => i.limits.cpu.map(|c| c.to_string()).unwrap_or_else(dash),
        "memory" => i.limits.memory.map(format_bytes).unwrap_or_else(dash),
        "disk" => i.limits.disk.map(format_bytes).unwrap_or_else(dash),
        "backend" => i.backend.clone(),
        "owner" => i.owner.clone(),
        "node" => i.node.clone(),
        "vmid" => i.vmid.map(|v| v.to_string()).unwrap_or_else(dash),
        "created" => i.created_at.format("%Y-%m-%d %H:%M").to_string(),
        "autostart" => i.autostart.to_string(),
        _ => dash(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vmid_and_node_columns_show_where_a_proxmox_instance_runs() {
        let mut instance: Instance = serde_json::from_value(serde_json::json!({
            "name": "ct1", "id": "6f1c1d4e-8a5b-4c1e-9f00-1b2c3d4e5f60", "owner": "admin",
            "backend": "proxmox", "image": "debian/12", "state": "running", "autostart": false,
            "created_at": "2026-12-02T10:00:00Z", "limits": {},
            "network": {"ipv4": null, "ipv6": null, "mac": null, "forwards": []},
            "node": "pve2", "vmid": 101
        }))
        .expect("an instance");
        let args = ListArgs {
            columns: "name,node,vmid".into(),
            ..ListArgs::default()
        };
        let row: Vec<String> = args
            .columns()
            .expect("known columns")
            .iter()
            .map(|c| cell(&instance, c))
            .collect();
        assert_eq!(row, ["ct1", "pve2", "101"]);
        instance.vmid = None;
        assert_eq!(cell(&instance, "vmid"), "-");
    }

    #[test]
    fn query_values_are_percent_encoded() {
        let query = encode(&[("name", "web-*".into()), ("owner", "a b&c".into())]);
        assert_eq!(query, "name=web-*&owner=a%20b%26c");
    }

    #[test]
    fn unknown_columns_are_named_with_the_choices() {
        let args = ListArgs {
            columns: "name,colour".into(),
            ..Default::default()
        };
        let err = args
            .columns()
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            err.contains("--columns") && err.contains("colour") && err.contains("ipv4"),
            "{err}"
        );
    }
}
