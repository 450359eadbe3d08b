//! Snapshots of an instance's root filesystem, and the per-instance schedule that takes them.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::FieldError;
use crate::schedule::{Schedule, parse_duration};

/// One snapshot, as `GET /instances/{name}/snapshots` lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Snapshot {
    pub name: String,
    pub created_at: DateTime<Utc>,
    /// Bytes the snapshot refers to (what a restore brings back).
    pub size: Option<u64>,
    /// Taken by the instance's schedule (and pruned by it).
    pub scheduled: bool,
    /// When a scheduled snapshot is pruned.
    pub expires_at: Option<DateTime<Utc>>,
}

/// `POST /instances/{name}/snapshots`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateSnapshotRequest {
    /// Like an instance name; `snap0`, `snap1`, … when absent.
    #[serde(default)]
    #[schema(
        pattern = "^(?:[a-z0-9]*[a-z][a-z0-9]*|[a-z0-9]+(?:-+[a-z0-9]+)+)$",
        max_length = 63
    )]
    pub name: Option<String>,
}

/// An instance's snapshot schedule (`PATCH /instances/{name}` with `"snapshots": {…}`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SnapshotSchedule {
    /// `@hourly`, `@daily`, `@weekly`, `@monthly` or cron `M H DoM Mon DoW` (UTC); empty
    /// turns scheduling off.
    pub schedule: String,
    /// How long a scheduled snapshot is kept, e.g. `7d`; absent keeps them until `max`.
    #[serde(default)]
    #[schema(pattern = "^[0-9]*[1-9][0-9]*[mhdw]$")]
    pub expiry: Option<String>,
    /// At most this many scheduled snapshots (up to 1000); the oldest go first.
    #[serde(
        default,
        deserialize_with = "crate::bounded::opt_u32_at_most::<_, 1000>"
    )]
    #[schema(minimum = 1, maximum = 1000)]
    pub max: Option<u32>,
}

impl SnapshotSchedule {
    /// Checks every part; errors name `snapshots.schedule`, `snapshots.expiry`, `snapshots.max`.
    pub fn validate(&self) -> Result<Option<Schedule>, FieldError> {
        if let Some(expiry) = &self.expiry {
            parse_duration(expiry, "snapshots.expiry")?;
        }
        if self.max == Some(0) {
            return Err(FieldError::new(
                "snapshots.max",
                "0 would delete every snapshot it takes; use 1 or more, or leave it out",
            ));
        }
        if self.schedule.trim().is_empty() {
            return Ok(None);
        }
        Schedule::parse(&self.schedule, "snapshots.schedule").map(Some)
    }
}
