//! The double's routes: schema path template + method → handler. Requests reaching here have
//! passed the schema check; handlers add PVE's semantic errors (offline node, unknown vmid, …).

use std::sync::Arc;

use serde_json::{Value, json};

use super::request::Params;
use super::{Answer, Shared, lxc, tasks};

pub(crate) fn dispatch(
    shared: &Arc<Shared>,
    method: &str,
    template: &str,
    vars: &Params,
    params: &Params,
) -> Answer {
    if let Some(node) = vars.get("node")
        && let Err(answer) = node_online(shared, node)
    {
        return answer;
    }
    let result = match (method, template) {
        ("GET", "/version") => Ok(json!({
            "version": "8.3.2", "release": "8.3", "repoid": "3e76eec21c4a14a7", "console": "xtermjs"
        })),
        ("GET", "/cluster/resources") => Ok(cluster_resources(shared, params.get("type"))),
        ("GET", "/cluster/status") => Ok(Value::Array(shared.cluster().status())),
        ("GET", "/cluster/nextid") => Ok(next_id(shared)),
        ("GET", "/nodes/{node}/storage/{storage}/content") => storage_content(shared, vars),
        ("GET", "/nodes/{node}/tasks/{upid}/status") => {
            let cluster = shared.cluster();
            tasks::status(&cluster, &vars["upid"]).ok_or_else(|| Answer::error(500, "no such task"))
        }
        ("GET", "/nodes/{node}/tasks/{upid}/log") => {
            let number =
                |k: &str, d: usize| params.get(k).and_then(|v| v.parse().ok()).unwrap_or(d);
            let cluster = shared.cluster();
            tasks::log(
                &cluster,
                &vars["upid"],
                number("start", 0),
                number("limit", 50),
            )
            .ok_or_else(|| Answer::error(500, "no such task"))
        }
        _ if template.starts_with("/nodes/{node}/lxc") => {
            lxc::dispatch(shared, method, template, vars, params)
        }
        _ => Err(Answer::error(
            501,
            &format!(
                "Method '{method} {template}' is in the PVE schema but not in Berth's test double"
            ),
        )),
    };
    match result {
        Ok(data) => Answer::data(data),
        Err(answer) => answer,
    }
}

/// Requests for an offline node fail as PVE's proxy fails them.
fn node_online(shared: &Shared, node: &str) -> Result<(), Answer> {
    let cluster = shared.cluster();
    match cluster.node(node) {
        None => Err(Answer::error(
            500,
            &format!(
                "hostname lookup '{node}' failed - failed to get address info for: {node}: Name or service not known"
            ),
        )),
        Some(n) if !n.online => Err(Answer::error(
            595,
            &format!("Connection refused: node '{node}' seems to be offline"),
        )),
        Some(_) => Ok(()),
    }
}

fn cluster_resources(shared: &Shared, kind: Option<&String>) -> Value {
    let all = shared.cluster().resources();
    let keep = |entry: &Value| {
        let t = entry["type"].as_str().unwrap_or_default();
        match kind.map(String::as_str) {
            None => true,
            Some("vm") => t == "lxc" || t == "qemu",
            Some(k) => t == k,
        }
    };
    Value::Array(all.into_iter().filter(keep).collect())
}

fn next_id(shared: &Shared) -> Value {
    let cluster = shared.cluster();
    let id = (100u64..)
        .find(|id| !cluster.containers.contains_key(id))
        .unwrap_or(100);
    Value::String(id.to_string())
}

fn storage_content(shared: &Shared, vars: &Params) -> Result<Value, Answer> {
    let storage = &vars["storage"];
    if storage != "local" {
        return Err(Answer::error(
            500,
            &format!("storage '{storage}' does not exist"),
        ));
    }
    let cluster = shared.cluster();
    let volumes = cluster
        .templates
        .iter()
        .map(|volid| json!({ "volid": volid, "content": "vztmpl", "format": "tzst", "size": 126_000_000 }))
        .collect();
    Ok(Value::Array(volumes))
}
