//! `/nodes/{node}/lxc…` in the double: list, create, status, power and destroy, with PVE's task
//! logs and error messages; config, metrics, snapshots and the console are in `guest`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use serde_json::{Value, json};

use super::request::{Params, Reply, find, vmid_of};
use super::state::Container;
use super::{Answer, Shared, guest, tasks};

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
        ("POST", "/{vmid}/migrate") => migrate(shared, node, vmid, params),
        ("POST", verb) if verb.starts_with("/{vmid}/status/") => power(
            shared,
            node,
            vmid,
            verb.trim_start_matches("/{vmid}/status/"),
        ),
        (_, rest)
            if [
                "/{vmid}/config",
                "/{vmid}/rrddata",
                "/{vmid}/termproxy",
                "/{vmid}/snapshot",
            ]
            .iter()
            .any(|p| rest.starts_with(p)) =>
        {
            guest::dispatch(shared, method, rest, node, vmid, vars, params)
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
    // PVE keeps the architecture asked for, else the template's (all the double's are amd64).
    let arch = config
        .entry("arch".into())
        .or_insert_with(|| "amd64".into())
        .clone();
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
        root_password_hash: None,
        authorized_keys: params.get("ssh-public-keys").cloned(),
    };
    shared.cluster().containers.insert(vmid, ct);
    let archive = template.replace("local:vztmpl/", "/var/lib/vz/template/cache/");
    let lines = vec![
        format!("extracting archive '{archive}'"),
        "Total bytes read: 524288000 (500MiB, 180MiB/s)".into(),
        format!("Detected container architecture: {arch}"),
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

/// `migrate`: a running container needs `restart=1` (PVE has no live migration of LXC); the
/// task moves it to `target` and, when it ran, starts it there.
fn migrate(shared: &Arc<Shared>, node: &str, vmid: u64, params: &Params) -> Reply {
    let target = params.get("target").cloned().unwrap_or_default();
    {
        let mut cluster = shared.cluster();
        match cluster.node(&target) {
            Some(n) if n.online => {}
            _ => {
                return Err(Answer::error(
                    500,
                    &format!("target node '{target}' is not online"),
                ));
            }
        }
        if target == node {
            return Err(Answer::error(
                500,
                &format!("target is local node '{node}' - cannot migrate"),
            ));
        }
        let ct = find(&mut cluster, node, vmid)?;
        if let Some(lock) = &ct.lock {
            return Err(Answer::error(500, &format!("CT is locked ({lock})")));
        }
        let restart = params.get("restart").is_some_and(|r| r == "1");
        if ct.status == "running" && !restart {
            return Err(Answer::error(
                500,
                "lxc live migration is currently not implemented",
            ));
        }
    }
    let lines = vec![format!(
        "starting migration of CT {vmid} to node '{target}'"
    )];
    Ok(tasks::spawn(
        shared,
        node,
        "vzmigrate",
        &vmid.to_string(),
        lines,
        Box::new(move |cluster| {
            let ct = cluster
                .containers
                .get_mut(&vmid)
                .ok_or("container vanished")?;
            ct.node = target;
            Ok(())
        }),
    ))
}

fn destroy(shared: &Arc<Shared>, node: &str, vmid: u64, params: &Params) -> Reply {
    {
        let mut cluster = shared.cluster();
        let ct = find(&mut cluster, node, vmid)?;
        // As PVE's check_lock: a container still being created cannot be destroyed yet.
        if let Some(lock) = &ct.lock {
            return Err(Answer::error(500, &format!("CT is locked ({lock})")));
        }
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
