//! Where a new container goes: the chosen node when it is online, else the online node with
//! the most free memory (from `/cluster/resources`).

use crate::client::ClusterResource;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PlacementError {
    #[error("proxmox node {0:?} is not in the cluster; nodes: {1}")]
    Unknown(String, String),
    #[error("proxmox node {0:?} is offline; choose another or leave the node unset")]
    Offline(String),
    #[error("no proxmox node is online")]
    NoneOnline,
}

/// The node to create on. `wanted` is the caller's choice, if any.
pub fn choose_node(
    resources: &[ClusterResource],
    wanted: Option<&str>,
) -> Result<String, PlacementError> {
    let nodes: Vec<&ClusterResource> = resources.iter().filter(|r| r.kind == "node").collect();
    let online = |r: &ClusterResource| r.status.as_deref() == Some("online");
    let name = |r: &ClusterResource| r.node.clone().unwrap_or_default();
    if let Some(wanted) = wanted {
        let Some(node) = nodes.iter().find(|r| r.node.as_deref() == Some(wanted)) else {
            let all: Vec<String> = nodes.iter().map(|r| name(r)).collect();
            return Err(PlacementError::Unknown(wanted.to_owned(), all.join(", ")));
        };
        return if online(node) {
            Ok(wanted.to_owned())
        } else {
            Err(PlacementError::Offline(wanted.to_owned()))
        };
    }
    nodes
        .iter()
        .filter(|r| online(r))
        .max_by_key(|r| {
            let free = r.maxmem.unwrap_or(0).saturating_sub(r.mem.unwrap_or(0));
            // Ties go to the first name, so placement is predictable.
            (free, std::cmp::Reverse(name(r)))
        })
        .map(|r| name(r))
        .ok_or(PlacementError::NoneOnline)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(name: &str, status: &str, maxmem: u64, mem: u64) -> ClusterResource {
        ClusterResource {
            id: format!("node/{name}"),
            kind: "node".into(),
            node: Some(name.into()),
            status: Some(status.into()),
            maxmem: Some(maxmem),
            mem: Some(mem),
            ..ClusterResource::default()
        }
    }

    #[test]
    fn most_free_memory_among_online_nodes() {
        let nodes = [
            node("pve1", "online", 16, 10),
            node("pve2", "online", 32, 8),
            node("pve3", "offline", 64, 0),
        ];
        assert_eq!(choose_node(&nodes, None), Ok("pve2".into()));
        assert_eq!(choose_node(&nodes, Some("pve1")), Ok("pve1".into()));
        assert_eq!(
            choose_node(&nodes, Some("pve3")),
            Err(PlacementError::Offline("pve3".into()))
        );
        assert!(matches!(
            choose_node(&nodes, Some("pve9")),
            Err(PlacementError::Unknown(..))
        ));
        assert_eq!(
            choose_node(&[node("a", "offline", 1, 0)], None),
            Err(PlacementError::NoneOnline)
        );
    }
}
