//! How many more guests this host can take, and what limits it: `capacity` of `GET /system`
//! and of `/readyz`.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The capacity left on the host for local guests.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CapacityLeft {
    /// Local guests running now.
    pub guests_running: u64,
    /// More guests the host can start before the first limit below is reached.
    pub guests_left: u64,
    /// The limit reached first (one of the `name`s of `limits`).
    pub limited_by: String,
    /// Each limit, its use and how many guests it leaves room for.
    pub limits: Vec<CapacityLimit>,
    /// What to change before the host is full (empty when each limit leaves room).
    pub warnings: Vec<String>,
}

/// One limit on the number of guests.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CapacityLimit {
    /// `addresses`, `inotify_instances`, `memory` or `pids`.
    pub name: String,
    /// The limit (addresses in the subnet, a sysctl, bytes of memory).
    pub limit: u64,
    /// In use now (for memory: bytes not available).
    pub used: u64,
    /// What one more guest is expected to take of it.
    pub per_guest: u64,
    /// Guests it leaves room for.
    pub guests_left: u64,
    /// What raises it: a configuration key or a host change.
    pub raise_with: String,
}

/// `GET /readyz`: whether berthd can take work, each part ok or why not, and the room left.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Readiness {
    /// Every check passed and the host has room for another guest.
    pub ready: bool,
    pub checks: Vec<ReadyCheck>,
    /// More local guests the host can start, and the limit reached first.
    pub guests_left: u64,
    pub limited_by: String,
    /// What to change before the host is full.
    pub warnings: Vec<String>,
}

/// One part of berthd: `store`, `storage`, `network`, `backend:<name>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ReadyCheck {
    pub name: String,
    pub ok: bool,
    /// Why not, when not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}
