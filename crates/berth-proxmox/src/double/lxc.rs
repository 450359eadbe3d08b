//! `/nodes/{node}/lxc…` in the double: create, status, power, config, rrddata, snapshots,
//! termproxy and destroy, with PVE's task logs and error messages.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use serde_json::{Value, json};

use super::handlers::Params;
use super::state::{Cluster, Container};
use super::{Answer, Shared, tasks};

type Reply = Result<Value, Answer>;

fn missing(node: &str, vmid: u64) -> Answer {
    Answer::error(
        500,
        &format!("Configuration file 'nodes/{node}/lxc/{vmid}.conf' does not exist"),
    )
}

fn vmid_of(vars: &Params) -> u64 {
    vars.get("vmid").and_then(|v| v.parse().ok()).unwrap_or(0)
}

/// The container `vmid` on `node`, or PVE's error.
fn find<'a>(cluster: &'a mut Cluster, node: &str, vmid: u64) -> Result<&'a mut Container, Answer> {
    match cluster.containers.get_mut(&vmid) {
        Some(ct) if ct.node == node => Ok(ct),
        _ => Err(missing(node, vmid)),
    }
}

pub(crate) fn dispatch(
    shared: &Arc<Shared>,
    method: &str,
    template: &str,
    vars: &Params,
    params: &Params,
) -> Reply {
    let node = vars["node"].as_str();
    let vmid = vmid_of(vars);
    let rest = template
        .strip_prefix("/nodes/{node}/lxc")
        .unwrap_or_default();
    match (method, rest) {
        ("GET", "") => Ok(list(shared, node)),
        ("POST", "") => create(shared, node, params),
        ("DELETE", "/{vmid}") => destroy(shared, node, vmid, params),
        ("GET", "/{vmid}/status/current") => current(shared, node, vmid),
        ("POST", verb) if verb.starts_with("/{vmid}/status/") => power(
            shared,
            node,
            vmid,
            verb.trim_start_matches("/{vmid}/status/"),
        ),
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
                "Method '{method} {template}' is in the PVE schema but not in Berth's test double"
            ),
        )),
    }
}

fn list(shared: &Shared, node: &str) -> Value {
    let cluster = shared.cluster();
    let cts = cluster
        .containers
        .values()
        .filter(|c| c.node == node)
        .map(|c| {
            json!({"vmid": c.vmid, "name": c.hostname, "status": c.status, "type": "lxc",
                        "maxmem": c.memory_bytes(), "cpus": c.cores()})
        })
        .collect();
    Value::Array(cts)
}

fn create(shared: &Arc<Shared>, node: &str, params: &Params) -> Reply {
    let vmid: u64 = params.get("vmid").and_then(|v| v.parse().ok()).unwrap_or(0);
    let template = params.get("ostemplate").cloned().unwrap_or_default();
    {
        let cluster = shared.cluster();
        if cluster.containers.contains_key(&vmid) {
            return Err(Answer::error(
                500,
                &format!("CT {vmid} already exists on node '{node}'"),
            ));
        }
        if !cluster.templates.contains(&template) {
            return Err(Answer::error(
                500,
                &format!("volume '{template}' does not exist"),
            ));
        }
    }
    let mut config: BTreeMap<String, String> = params
        .iter()
        .filter(|(k, _)| {
            !matches!(
                k.as_str(),
                "vmid" | "password" | "ssh-public-keys" | "hostname" | "ostemplate"
            )
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    config.insert(
        "ostype".into(),
        template
            .split('/')
            .nth(1)
            .and_then(|t| t.split('-').next())
            .unwrap_or("debian")
            .into(),
    );
    let ct = Container {
        vmid,
        node: node.to_owned(),
        hostname: params
            .get("hostname")
            .cloned()
            .unwrap_or_else(|| format!("CT{vmid}")),
        status: "stopped".into(),
        frozen: false,
        config,
        snapshots: Vec::new(),
        started: None,
        lock: Some("create".into()),
    };
    shared.cluster().containers.insert(vmid, ct);
    let archive = template.replace("local:vztmpl/", "/var/lib/vz/template/cache/");
    let lines = vec![
        format!("extracting archive '{archive}'"),
        "Total bytes read: 524288000 (500MiB, 180MiB/s)".into(),
        "Detected container architecture: amd64".into(),
        "Creating SSH host key 'ssh_host_rsa_key' - this may take some time ...".into(),
        "Creating SSH host key 'ssh_host_ed25519_key' - this may take some time ...".into(),
    ];
    // A failed create leaves nothing behind (PVE removes the half-made volume and config).
    let cleanup_shared = shared.clone();
    let upid = tasks::spawn(
        shared,
        node,
        "vzcreate",
        &vmid.to_string(),
        lines,
        Box::new(move |cluster| match cluster.containers.get_mut(&vmid) {
            Some(ct) => {
                ct.lock = None;
                Ok(())
            }
            None => Err(format!("CT {vmid} vanished during create")),
        }),
    );
    watch_failed_create(
        cleanup_shared,
        upid.as_str().unwrap_or_default().to_owned(),
        vmid,
    );
    Ok(upid)
}

/// Removes a container whose create task failed (as PVE does on `TASK ERROR`).
fn watch_failed_create(shared: Arc<Shared>, upid: String, vmid: u64) {
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            let mut cluster = shared.cluster();
            let Some(exit) = cluster.tasks.get(&upid).map(|t| t.exitstatus.clone()) else {
                return;
            };
            match exit {
                None => continue,
                Some(ok) if ok == "OK" => return,
                Some(_) => {
                    cluster.containers.remove(&vmid);
                    return;
                }
            }
        }
    });
}

fn current(shared: &Shared, node: &str, vmid: u64) -> Reply {
    let mut cluster = shared.cluster();
    let ct = find(&mut cluster, node, vmid)?;
    let running = ct.status == "running";
    let mut out = json!({
        "vmid": vmid, "name": ct.hostname, "status": ct.status, "type": "lxc",
        "cpus": ct.cores(), "maxmem": ct.memory_bytes(),
        "mem": if running { ct.memory_bytes() / 4 } else { 0 },
        "uptime": ct.started.map(|s| s.elapsed().as_secs()).unwrap_or(0),
        "maxswap": 512u64 << 20, "swap": 0, "disk": 1u64 << 30, "maxdisk": 8u64 << 30,
        "netin": 0, "netout": 0, "diskread": 0, "diskwrite": 0, "ha": {"managed": 0},
    });
    if running {
        out["pid"] = json!(100_000 + vmid);
    }
    if let Some(lock) = &ct.lock {
        out["lock"] = json!(lock);
    }
    Ok(out)
}

fn power(shared: &Arc<Shared>, node: &str, vmid: u64, verb: &str) -> Reply {
    let (kind, from_running, line) = match verb {
        "start" => ("vzstart", false, "starting container"),
        "stop" => ("vzstop", true, "stopping container (hard)"),
        "shutdown" => ("vzshutdown", true, "stopping container (clean shutdown)"),
        "reboot" => ("vzreboot", true, "rebooting container"),
        "suspend" => ("vzsuspend", true, "freezing container"),
        "resume" => ("vzresume", true, "thawing container"),
        _ => {
            return Err(Answer::error(
                501,
                &format!("status/{verb} not in the double"),
            ));
        }
    };
    {
        let mut cluster = shared.cluster();
        let ct = find(&mut cluster, node, vmid)?;
        let running = ct.status == "running";
        if let Some(lock) = &ct.lock {
            return Err(Answer::error(500, &format!("CT is locked ({lock})")));
        }
        if verb == "start" && running {
            return Err(Answer::error(500, &format!("CT {vmid} already running")));
        }
        if from_running && !running {
            return Err(Answer::error(500, &format!("CT {vmid} not running")));
        }
    }
    let verb = verb.to_owned();
    Ok(tasks::spawn(
        shared,
        node,
        kind,
        &vmid.to_string(),
        vec![line.into()],
        Box::new(move |cluster| {
            let ct = cluster
                .containers
                .get_mut(&vmid)
                .ok_or("container vanished")?;
            match verb.as_str() {
                "start" | "reboot" => {
                    ct.status = "running".into();
                    ct.frozen = false;
                    ct.started = Some(Instant::now());
                }
                "stop" | "shutdown" => {
                    ct.status = "stopped".into();
                    ct.frozen = false;
                    ct.started = None;
                }
                "suspend" => ct.frozen = true,
                _ => ct.frozen = false,
            }
            Ok(())
        }),
    ))
}

fn destroy(shared: &Arc<Shared>, node: &str, vmid: u64, params: &Params) -> Reply {
    {
        let mut cluster = shared.cluster();
        let ct = find(&mut cluster, node, vmid)?;
        let force = params.get("force").is_some_and(|f| f == "1");
        if ct.status == "running" && !force {
            return Err(Answer::error(
                500,
                &format!("CT {vmid} is running - destroy failed"),
            ));
        }
    }
    let lines = vec![format!(
        "Logical volume \"vm-{vmid}-disk-0\" successfully removed."
    )];
    Ok(tasks::spawn(
        shared,
        node,
        "vzdestroy",
        &vmid.to_string(),
        lines,
        Box::new(move |cluster| {
            cluster.containers.remove(&vmid);
            Ok(())
        }),
    ))
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
