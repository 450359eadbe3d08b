//! The double's in-memory cluster: nodes, containers, snapshots, tasks with logs, and the fault
//! switches tests flip.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::upid::Upid;

/// One node of the simulated cluster.
#[derive(Debug, Clone)]
pub struct NodeSpec {
    pub name: String,
    /// Bytes.
    pub maxmem: u64,
    /// Bytes in use by the host itself (guests add theirs while running).
    pub mem: u64,
    pub maxcpu: u32,
    pub online: bool,
    /// The address `/cluster/status` gives (where Berth reaches the node over SSH).
    pub ip: String,
}

impl NodeSpec {
    pub fn new(name: &str, maxmem_gib: u64, used_gib: u64) -> Self {
        Self {
            name: name.to_owned(),
            maxmem: maxmem_gib << 30,
            mem: used_gib << 30,
            maxcpu: 8,
            online: true,
            ip: "127.0.0.1".into(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Container {
    pub vmid: u64,
    pub node: String,
    pub hostname: String,
    /// `running` or `stopped` (a frozen guest is `running` with `frozen`).
    pub status: String,
    pub frozen: bool,
    /// The config PVE keeps (`cores`, `memory`, `rootfs`, `net0`, `tags`, …).
    pub config: BTreeMap<String, String>,
    pub snapshots: Vec<(String, String, i64)>,
    pub started: Option<Instant>,
    /// `create`, `snapshot`, … while a task holds the container.
    pub lock: Option<String>,
    /// Root's password hash as `pct exec … chpasswd -e` set it (`None`: as created).
    pub root_password_hash: Option<String>,
    /// Root's `authorized_keys` (from `ssh-public-keys` at create, or `pct exec`).
    pub authorized_keys: Option<String>,
}

impl Container {
    pub fn memory_bytes(&self) -> u64 {
        self.config
            .get("memory")
            .and_then(|m| m.parse::<u64>().ok())
            .unwrap_or(512)
            << 20
    }
    pub fn cores(&self) -> u64 {
        self.config
            .get("cores")
            .and_then(|c| c.parse().ok())
            .unwrap_or(1)
    }
}

#[derive(Debug, Clone)]
pub struct Task {
    pub upid: Upid,
    pub log: Vec<String>,
    pub exitstatus: Option<String>,
}

#[derive(Debug, Default)]
pub struct Cluster {
    pub nodes: Vec<NodeSpec>,
    pub containers: BTreeMap<u64, Container>,
    pub tasks: HashMap<String, Task>,
    pub templates: Vec<String>,
    pub tickets: Vec<String>,
    next_pid: u32,
}

impl Cluster {
    pub fn new(nodes: Vec<NodeSpec>) -> Self {
        Self {
            nodes,
            templates: vec![
                "local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst".into(),
                "local:vztmpl/debian-11-standard_11.7-1_amd64.tar.zst".into(),
                "local:vztmpl/ubuntu-24.04-standard_24.04-2_amd64.tar.zst".into(),
                "local:vztmpl/ubuntu-22.04-standard_22.04-1_amd64.tar.zst".into(),
            ],
            next_pid: 0x1000,
            ..Self::default()
        }
    }

    pub fn node(&self, name: &str) -> Option<&NodeSpec> {
        self.nodes.iter().find(|n| n.name == name)
    }

    pub fn node_mem(&self, node: &NodeSpec) -> u64 {
        let guests: u64 = self
            .containers
            .values()
            .filter(|c| c.node == node.name && c.status == "running")
            .map(Container::memory_bytes)
            .sum();
        node.mem + guests
    }

    pub fn new_upid(&mut self, node: &str, kind: &str, id: &str, user: &str) -> Upid {
        self.next_pid += 1;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or_default();
        Upid::new(node, self.next_pid, now, kind, id, user)
    }

    /// `/cluster/status`: the cluster (when more than one node) and each node with its address.
    pub fn status(&self) -> Vec<Value> {
        let mut out = Vec::new();
        if self.nodes.len() > 1 {
            out.push(json!({
                "type": "cluster", "id": "cluster", "name": "berth-double",
                "nodes": self.nodes.len(), "quorate": 1, "version": 3,
            }));
        }
        for (i, node) in self.nodes.iter().enumerate() {
            out.push(json!({
                "type": "node", "id": format!("node/{}", node.name), "name": node.name,
                "ip": node.ip, "online": u8::from(node.online), "local": u8::from(i == 0),
                "nodeid": i + 1, "level": "",
            }));
        }
        out
    }

    /// `/cluster/resources` entries.
    pub fn resources(&self) -> Vec<Value> {
        let mut out = Vec::new();
        for node in &self.nodes {
            out.push(json!({
                "id": format!("node/{}", node.name), "type": "node", "node": node.name,
                "status": if node.online { "online" } else { "offline" },
                "maxmem": node.maxmem, "mem": if node.online { self.node_mem(node) } else { 0 },
                "maxcpu": node.maxcpu, "cpu": if node.online { 0.05 } else { 0.0 },
                "level": "", "cgroup-mode": 2,
            }));
            out.push(json!({
                "id": format!("storage/{}/local", node.name), "type": "storage",
                "node": node.name, "storage": "local", "content": "vztmpl,iso,backup",
                "status": if node.online { "available" } else { "unknown" },
            }));
        }
        for ct in self.containers.values() {
            let online = self.node(&ct.node).is_some_and(|n| n.online);
            let running = ct.status == "running";
            out.push(json!({
                "id": format!("lxc/{}", ct.vmid), "type": "lxc", "vmid": ct.vmid,
                "node": ct.node, "name": ct.hostname,
                "status": if online { ct.status.as_str() } else { "unknown" },
                "maxmem": ct.memory_bytes(), "mem": if running { ct.memory_bytes() / 4 } else { 0 },
                "maxcpu": ct.cores(), "cpu": if running { 0.02 } else { 0.0 },
                "uptime": ct.started.map(|s| s.elapsed().as_secs()).unwrap_or(0),
                "tags": ct.config.get("tags").cloned().unwrap_or_default(),
                "template": 0,
            }));
        }
        out
    }
}

/// Fault switches, flipped by tests while the double runs.
#[derive(Debug, Default)]
pub struct Faults {
    /// Every new connection is dropped before TLS (PVE unreachable).
    pub down: AtomicBool,
    /// Every new connection is accepted and never answered (a hung node): held open, silent,
    /// until the switch is turned off again.
    pub hang: AtomicBool,
    /// Every answer waits this long first (ms).
    pub slow_ms: AtomicU64,
    /// The token is refused as expired.
    pub token_expired: AtomicBool,
    /// The next task to start fails with this message.
    pub fail_next_task: Mutex<Option<String>>,
    /// How long a task takes (ms).
    pub task_ms: AtomicU64,
}

impl Faults {
    pub fn slow(&self) -> Option<Duration> {
        match self.slow_ms.load(Ordering::Relaxed) {
            0 => None,
            ms => Some(Duration::from_millis(ms)),
        }
    }
    pub fn take_task_failure(&self) -> Option<String> {
        self.fail_next_task
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
    }
}
