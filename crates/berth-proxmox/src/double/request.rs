//! What every handler of the double takes and gives: a request's path variables and
//! parameters, the reply, and finding the container a path names (with PVE's error when there
//! is none).

use std::collections::BTreeMap;

use serde_json::Value;

use super::Answer;
use super::state::{Cluster, Container};

/// Path variables or request parameters, by name.
pub(crate) type Params = BTreeMap<String, String>;

pub(super) type Reply = Result<Value, Answer>;

fn missing(node: &str, vmid: u64) -> Answer {
    Answer::error(
        500,
        &format!("Configuration file 'nodes/{node}/lxc/{vmid}.conf' does not exist"),
    )
}

pub(super) fn vmid_of(vars: &Params) -> u64 {
    vars.get("vmid").and_then(|v| v.parse().ok()).unwrap_or(0)
}

/// The container `vmid` on `node`, or PVE's error.
pub(super) fn find<'a>(
    cluster: &'a mut Cluster,
    node: &str,
    vmid: u64,
) -> Result<&'a mut Container, Answer> {
    match cluster.containers.get_mut(&vmid) {
        Some(ct) if ct.node == node => Ok(ct),
        _ => Err(missing(node, vmid)),
    }
}
