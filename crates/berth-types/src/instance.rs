//! The instance as the API shows it, and its lifecycle states.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::Limits;

/// `creating → stopped ⇄ running ⇄ suspended`, plus `error` and `deleting`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum InstanceState {
    Creating,
    Stopped,
    Running,
    Suspended,
    Error,
    Deleting,
}

impl InstanceState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Creating => "creating",
            Self::Stopped => "stopped",
            Self::Running => "running",
            Self::Suspended => "suspended",
            Self::Error => "error",
            Self::Deleting => "deleting",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        [
            Self::Creating,
            Self::Stopped,
            Self::Running,
            Self::Suspended,
            Self::Error,
            Self::Deleting,
        ]
        .into_iter()
        .find(|s| s.as_str() == raw)
    }
}

/// A port forward from the host into an instance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Forward {
    pub id: String,
    /// Host address and port, e.g. `127.0.0.1:2222`.
    pub listen: String,
    /// Guest port.
    pub port: u16,
    /// `tcp` or `udp`.
    pub protocol: String,
}

/// Addresses of an instance. Empty until the instance is attached to the bridge.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct InstanceNetwork {
    pub ipv4: Option<String>,
    pub ipv6: Option<String>,
    pub mac: Option<String>,
    pub forwards: Vec<Forward>,
}

/// One VPS, as `GET /instances/{name}` and `berth info NAME --format json` show it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Instance {
    pub name: String,
    pub id: Uuid,
    pub owner: String,
    pub backend: String,
    /// The runtime tool the guest runs under, on a backend that offers a choice (oci: `crun`
    /// or `runc`), as chosen at create; absent on other backends (and on oci instances made
    /// before the choice, which run under `[oci] runtime`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runtime: Option<String>,
    pub image: String,
    pub state: InstanceState,
    pub autostart: bool,
    pub created_at: DateTime<Utc>,
    pub limits: Limits,
    pub network: InstanceNetwork,
    /// Where it runs: `local`, or for a remote (proxmox) instance the node it is on now, as
    /// the backend last reported it.
    pub node: String,
    /// Remote (proxmox) instances: the backend's id for the guest (PVE's VMID), once known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vmid: Option<u64>,
    /// The snapshot schedule, when one is set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshots: Option<crate::snapshot::SnapshotSchedule>,
    /// The backup schedule, when one is set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backups: Option<crate::api::BackupSchedule>,
    /// PID of the guest's init on the host, while running.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid: Option<i32>,
    /// Why it is stopped or in error when it got so by itself (its init exited or was
    /// killed): the exit status and the last lines of its console. Cleared by a start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state_reason: Option<String>,
    /// When the guest's init started, while running (its uptime counts from here).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<DateTime<Utc>>,
    /// Remote backends (proxmox) only: whether the state was read from the backend just now
    /// (`miss`), from a recent cached read (`hit`), or is the last known state because the
    /// backend is unreachable (`stale`). The `X-Cache-Status` header says the same.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache: Option<CacheStatus>,
    /// The guest's root is the host's root (no user namespace). Only an admin sets it; guests
    /// are unprivileged by default, instances made before id ranges are privileged.
    #[serde(default)]
    pub privileged: bool,
    /// Containers may run inside the guest (`security.nesting`).
    #[serde(default)]
    pub nesting: bool,
    /// The host ids an unprivileged guest's ids 0-65535 are, once allocated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idmap: Option<InstanceIdmap>,
}

/// An unprivileged guest's range of host ids: guest id N is host id `host_start + N`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct InstanceIdmap {
    pub host_start: u32,
    pub size: u32,
}

impl From<crate::IdRange> for InstanceIdmap {
    fn from(range: crate::IdRange) -> Self {
        Self {
            host_start: range.start(),
            size: crate::idmap::IDS_PER_GUEST,
        }
    }
}

/// Where a remote backend's answer came from; shown as `X-Cache-Status: HIT|MISS|STALE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum CacheStatus {
    /// Read from the backend within the cache's time to live.
    Hit,
    /// Read from the backend for this request.
    Miss,
    /// The backend is unreachable: the last known state.
    Stale,
}

impl CacheStatus {
    /// The `X-Cache-Status` header value.
    pub fn header(self) -> &'static str {
        match self {
            Self::Hit => "HIT",
            Self::Miss => "MISS",
            Self::Stale => "STALE",
        }
    }

    /// The status of an answer made of several reads: stale wins, then miss.
    pub fn combine(a: Option<Self>, b: Option<Self>) -> Option<Self> {
        match (a, b) {
            (Some(Self::Stale), _) | (_, Some(Self::Stale)) => Some(Self::Stale),
            (Some(Self::Miss), _) | (_, Some(Self::Miss)) => Some(Self::Miss),
            (x, y) => x.or(y),
        }
    }
}
