//! What a backend is, asked instead of its name: where a guest's root filesystem comes from, how
//! it is networked, where its metrics and snapshots come from, what kind of guest it runs and
//! where. And the types of the operations only some backends do themselves (provision, observe).

use berth_types::{Arch, CacheStatus, ImageRef, InstanceName, Limits};

use crate::{RuntimeError, RuntimeStatus};

/// Every question the app asks about a backend. Each backend answers for itself
/// (`Runtime::capabilities`); the app never compares backend names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capabilities {
    pub rootfs: RootfsSource,
    pub network: NetworkMode,
    pub metrics: MetricsSource,
    pub snapshots: SnapshotSource,
    pub guest: GuestKind,
    pub placement: Placement,
}

impl Capabilities {
    /// A backend on this host booting the root filesystem Berth prepared, on Berth's bridge,
    /// sampled by Berth's collector, snapshotted in Berth's storage pool.
    pub const LOCAL: Self = Self {
        rootfs: RootfsSource::Local,
        network: NetworkMode::Bridge,
        metrics: MetricsSource::Collector,
        snapshots: SnapshotSource::Storage,
        guest: GuestKind::Container,
        placement: Placement::Host,
    };
}

/// Where a guest's root filesystem comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RootfsSource {
    /// Berth makes it on local storage: image → clone → configure, then passes it to the
    /// backend (`ContainerSpec::rootfs`). Disk limits, snapshots, backups, imports, passwords
    /// and files work on it directly.
    Local,
    /// The backend makes and keeps it (`Runtime::provision`); Berth never sees its files.
    Backend,
}

/// How a guest is networked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NetworkMode {
    /// Berth's bridge: addresses from Berth's IPAM, a named netns with a veth on the bridge,
    /// NAT and port forwards in Berth's nftables table, the guest's network files.
    Bridge,
    /// Addresses are taken from Berth's IPAM, recorded and written into the guest, but nothing
    /// is plugged in on the host (the simulated backend).
    Recorded,
    /// The backend's own network; Berth records no address.
    Backend,
}

impl NetworkMode {
    /// Whether the guest gets addresses from Berth's IPAM.
    pub fn takes_address(self) -> bool {
        matches!(self, Self::Bridge | Self::Recorded)
    }

    /// Whether the guest is plugged into Berth's bridge (netns, veth, nftables).
    pub fn on_bridge(self) -> bool {
        self == Self::Bridge
    }
}

/// Where an instance's metrics history comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricsSource {
    /// Berth's collector samples the guest's cgroup `/berth/<name>` and its host veth.
    Collector,
    /// The backend keeps its own history (`Runtime::metrics_history`).
    Backend,
    /// Nothing runs that could be sampled (the simulated backend).
    Nothing,
}

/// Where snapshots are taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SnapshotSource {
    /// In Berth's storage pool, beside the instance's root filesystem (the guest frozen for
    /// the copy).
    Storage,
    /// By the backend (`Runtime::snapshot_create` and friends).
    Backend,
}

/// What kind of guest the backend runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GuestKind {
    /// A system container sharing the host's kernel.
    Container,
}

/// Where guests run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placement {
    /// On this host: state is read live, nothing needs to be reachable.
    Host,
    /// On another machine or cluster: a node may be chosen, state is read through a cache
    /// (`Observation::freshness`), writes need the backend to answer (`Runtime::probe`), and
    /// the backend keeps a stopped guest's configuration (limits apply in any state).
    Remote,
}

/// What the backend is asked to make when it makes the root filesystem itself.
#[derive(Debug, Clone)]
pub struct ProvisionRequest {
    pub name: InstanceName,
    pub image: ImageRef,
    /// A crypt(3) SHA-512 hash: the clear text never leaves berthd.
    pub password_hash: Option<String>,
    pub ssh_keys: Vec<String>,
    pub limits: Limits,
    /// A node asked for; `None`: the backend's own choice.
    pub node: Option<String>,
    /// Berth's id of the instance, for the backend's description of the guest.
    pub instance_id: String,
    /// The architecture asked for; `None`: the backend's own choice (PVE reads it from the
    /// template).
    pub arch: Option<Arch>,
}

/// Where the backend put the guest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Provisioned {
    /// The node it runs on.
    pub node: String,
    /// One line for the operation's log: what the backend made, and where.
    pub summary: String,
}

/// One report of a backend's own progress: how far (0–100) and its latest log line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Progress {
    pub percent: u8,
    pub line: String,
}

/// A guest's state and where the answer came from.
#[derive(Debug)]
pub struct Observation {
    pub status: Result<RuntimeStatus, RuntimeError>,
    /// Remote backends: read just now (`Miss`), from a fresh cache (`Hit`), or the last known
    /// state while the backend does not answer (`Stale`). `None`: read live on this host.
    pub freshness: Option<CacheStatus>,
    /// Remote backends: where the guest is, as the backend last reported it.
    pub location: Option<Location>,
    /// Remote backends: the backend answered and holds no such guest any more (removed
    /// outside Berth); why, in words. `status` is then `Stopped`.
    pub gone: Option<String>,
}

impl Observation {
    /// A state read live on this host.
    pub fn live(status: Result<RuntimeStatus, RuntimeError>) -> Self {
        Self {
            status,
            freshness: None,
            location: None,
            gone: None,
        }
    }
}

/// Where a remote guest runs: its node and the backend's own id for it (PVE's VMID).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub node: String,
    pub vmid: u64,
}
