//! Tasks in the double: each writes its log lines over its run time, then applies its effect
//! to the cluster (or fails, with `TASK ERROR: …`, when a fault or the effect says so).

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use serde_json::{Value, json};

use super::Shared;
use super::state::{Cluster, Task};
use crate::upid::Upid;

/// What a task does to the cluster when it completes.
pub(crate) type Effect = Box<dyn FnOnce(&mut Cluster) -> Result<(), String> + Send>;

/// Starts a task and answers its UPID (as PVE answers every asynchronous call).
pub(crate) fn spawn(
    shared: &Arc<Shared>,
    node: &str,
    kind: &str,
    id: &str,
    lines: Vec<String>,
    effect: Effect,
) -> Value {
    let failure = shared.faults.take_task_failure();
    let user = shared.token_id.clone();
    let upid = {
        let mut cluster = shared.cluster();
        let upid = cluster.new_upid(node, kind, id, &user);
        cluster.tasks.insert(
            upid.to_string(),
            Task {
                upid: upid.clone(),
                log: Vec::new(),
                exitstatus: None,
            },
        );
        upid
    };
    let total = Duration::from_millis(shared.faults.task_ms.load(Ordering::Relaxed));
    let step = total / (lines.len() as u32 + 1);
    let shared = shared.clone();
    let key = upid.to_string();
    tokio::spawn(async move {
        let mut lines = lines.into_iter();
        // A failing task stops halfway through its log, as real ones do.
        let keep = if failure.is_some() {
            lines.len() / 2
        } else {
            usize::MAX
        };
        for line in lines.by_ref().take(keep) {
            tokio::time::sleep(step).await;
            push(&shared, &key, line);
        }
        tokio::time::sleep(step).await;
        let mut cluster = shared.cluster();
        let result = match failure {
            Some(message) => Err(message),
            None => effect(&mut cluster),
        };
        if let Some(task) = cluster.tasks.get_mut(&key) {
            match result {
                Ok(()) => {
                    task.log.push("TASK OK".into());
                    task.exitstatus = Some("OK".into());
                }
                Err(message) => {
                    task.log.push(format!("TASK ERROR: {message}"));
                    task.exitstatus = Some(message);
                }
            }
        }
    });
    Value::String(upid.to_string())
}

fn push(shared: &Shared, key: &str, line: String) {
    if let Some(task) = shared.cluster().tasks.get_mut(key) {
        task.log.push(line);
    }
}

/// `GET /nodes/{node}/tasks/{upid}/status`.
pub(crate) fn status(cluster: &Cluster, upid: &str) -> Option<Value> {
    let task = cluster.tasks.get(upid)?;
    let Upid {
        node,
        pid,
        pstart,
        starttime,
        kind,
        id,
        user,
        ..
    } = &task.upid;
    let mut out = json!({
        "upid": upid, "node": node, "pid": pid, "pstart": pstart, "starttime": starttime,
        "type": kind, "id": id, "user": user,
        "status": if task.exitstatus.is_some() { "stopped" } else { "running" },
    });
    if let Some(exit) = &task.exitstatus {
        out["exitstatus"] = json!(exit);
    }
    Some(out)
}

/// `GET /nodes/{node}/tasks/{upid}/log?start=&limit=` (lines numbered from 1).
pub(crate) fn log(cluster: &Cluster, upid: &str, start: usize, limit: usize) -> Option<Value> {
    let task = cluster.tasks.get(upid)?;
    let lines: Vec<Value> = task
        .log
        .iter()
        .enumerate()
        .skip(start)
        .take(limit)
        .map(|(i, t)| json!({ "n": i + 1, "t": t }))
        .collect();
    Some(Value::Array(lines))
}
