//! A container's config, rrddata, snapshots and termproxy ticket in the double.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::{Value, json};

use super::request::{Params, Reply, find};
use super::state::Container;
use super::{Answer, Shared, tasks};

pub(crate) fn dispatch(
    shared: &Arc<Shared>,
    method: &str,
    rest: &str,
    node: &str,
    vmid: u64,
    vars: &Params,
    params: &Params,
) -> Reply {
    match (method, rest) {
        ("GET", "/{vmid}/config") => {
            let mut cluster = shared.cluster();
            let ct = find(&mut cluster, node, vmid)?;
            let mut config: BTreeMap<String, Value> = ct
                .config
                .iter()
                .map(|(k, v)| (k.clone(), json!(v)))
                .collect();
            config.insert("hostname".into(), json!(ct.hostname));
            Ok(json!(config))
        }
        ("PUT", "/{vmid}/config") => {
            let mut cluster = shared.cluster();
            let ct = find(&mut cluster, node, vmid)?;
            for (k, v) in params {
                ct.config.insert(k.clone(), v.clone());
            }
            Ok(Value::Null)
        }
        ("GET", "/{vmid}/rrddata") => rrddata(shared, node, vmid, params),
        ("GET", "/{vmid}/snapshot") => {
            let mut cluster = shared.cluster();
            let ct = find(&mut cluster, node, vmid)?;
            let mut out: Vec<Value> = ct
                .snapshots
                .iter()
                .map(|(name, desc, time)| json!({"name": name, "description": desc, "snaptime": time}))
                .collect();
            let parent = ct.snapshots.last().map(|s| s.0.clone());
            out.push(json!({"name": "current", "description": "You are here!", "parent": parent}));
            Ok(Value::Array(out))
        }
        ("POST", "/{vmid}/snapshot") => snapshot(shared, node, vmid, params),
        ("DELETE", "/{vmid}/snapshot/{snapname}") => {
            let name = vars["snapname"].clone();
            with_snapshot(
                shared,
                node,
                vmid,
                &vars["snapname"],
                "vzdelsnapshot",
                move |ct| {
                    ct.snapshots.retain(|s| s.0 != name);
                },
            )
        }
        ("POST", "/{vmid}/snapshot/{snapname}/rollback") => {
            let name = vars["snapname"].clone();
            with_snapshot(shared, node, vmid, &name, "vzrollback", |ct| {
                ct.status = "stopped".into();
                ct.started = None;
            })
        }
        ("POST", "/{vmid}/termproxy") => {
            let mut cluster = shared.cluster();
            find(&mut cluster, node, vmid)?;
            let ticket = format!(
                "PVEVNC:{:08X}::{}",
                rand::random::<u32>(),
                rand::random::<u64>()
            );
            cluster.tickets.push(ticket.clone());
            let upid = cluster.new_upid(node, "vncproxy", &vmid.to_string(), &shared.token_id);
            Ok(
                json!({"port": 5900 + (vmid % 100), "ticket": ticket, "upid": upid.to_string(),
                      "user": shared.token_id}),
            )
        }
        _ => Err(Answer::error(
            501,
            &format!(
                "Method '{method} /nodes/{{node}}/lxc{rest}' is in the PVE schema but not in Berth's test double"
            ),
        )),
    }
}

fn rrddata(shared: &Shared, node: &str, vmid: u64, params: &Params) -> Reply {
    let mut cluster = shared.cluster();
    let ct = find(&mut cluster, node, vmid)?;
    let step: i64 = match params.get("timeframe").map(String::as_str) {
        Some("day") => 1_800,
        Some("week") => 10_800,
        Some("month") => 43_200,
        Some("year") => 604_800,
        _ => 60,
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default();
    let maxmem = ct.memory_bytes() as f64;
    let points = (0..70)
        .map(|i| {
            let t = now - now % step - (69 - i) * step;
            let wave = ((i as f64) / 7.0).sin().abs();
            json!({"time": t, "cpu": 0.01 + 0.1 * wave, "maxcpu": ct.cores(), "mem": maxmem * (0.2 + 0.3 * wave),
                   "maxmem": maxmem, "disk": 1u64 << 30, "maxdisk": 8u64 << 30,
                   "netin": 1000.0 * wave, "netout": 500.0 * wave, "diskread": 0, "diskwrite": 0})
        })
        .collect();
    Ok(Value::Array(points))
}

fn snapshot(shared: &Arc<Shared>, node: &str, vmid: u64, params: &Params) -> Reply {
    let name = params.get("snapname").cloned().unwrap_or_default();
    {
        let mut cluster = shared.cluster();
        let ct = find(&mut cluster, node, vmid)?;
        if ct.snapshots.iter().any(|s| s.0 == name) {
            return Err(Answer::error(
                500,
                &format!("snapshot name '{name}' already used"),
            ));
        }
    }
    let desc = params.get("description").cloned().unwrap_or_default();
    let lines = vec![format!("create snapshot '{name}'")];
    Ok(tasks::spawn(
        shared,
        node,
        "vzsnapshot",
        &vmid.to_string(),
        lines,
        Box::new(move |cluster| {
            let ct = cluster
                .containers
                .get_mut(&vmid)
                .ok_or("container vanished")?;
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs() as i64)
                .unwrap_or_default();
            ct.snapshots.push((name, desc, now));
            Ok(())
        }),
    ))
}

fn with_snapshot(
    shared: &Arc<Shared>,
    node: &str,
    vmid: u64,
    name: &str,
    kind: &str,
    apply: impl FnOnce(&mut Container) + Send + 'static,
) -> Reply {
    {
        let mut cluster = shared.cluster();
        let ct = find(&mut cluster, node, vmid)?;
        if !ct.snapshots.iter().any(|s| s.0 == name) {
            return Err(Answer::error(
                500,
                &format!("snapshot '{name}' does not exist"),
            ));
        }
    }
    let lines = vec![format!("{kind} '{name}'")];
    Ok(tasks::spawn(
        shared,
        node,
        kind,
        &vmid.to_string(),
        lines,
        Box::new(move |cluster| {
            let ct = cluster
                .containers
                .get_mut(&vmid)
                .ok_or("container vanished")?;
            apply(ct);
            Ok(())
        }),
    ))
}
