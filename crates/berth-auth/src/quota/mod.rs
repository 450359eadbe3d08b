//! Per-user quotas and the reservation ledger that enforces them. Every resource a user holds
//! (an instance's count, cpu, memory and disk; a snapshot; a forward) is a row in
//! `quota_reservations` keyed by a target such as `instance:<id>`; usage is the sum of those
//! rows, and [`AuthDb::reserve`] checks and writes in one IMMEDIATE transaction, so concurrent
//! creates — from any thread or connection — cannot together pass a limit.

use berth_types::limits::{MAX_CPU, MAX_DISK, MAX_MEMORY};
use berth_types::{FieldError, Limits};
use rusqlite::{OptionalExtension, TransactionBehavior, params};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::AuthDb;
use ledger::{Ledger, to_milli};

mod ledger;

#[derive(Debug, thiserror::Error)]
pub enum QuotaError {
    #[error("quota exceeded: {resource} would be {would_be}, the limit is {limit}")]
    Exceeded {
        resource: &'static str,
        limit: String,
        would_be: String,
    },
    #[error("port {port} is outside your allowed range {low}-{high}")]
    PortOutsideRange { port: u16, low: u16, high: u16 },
    #[error("no such user")]
    NoSuchUser,
    #[error("database")]
    Sqlite(#[from] rusqlite::Error),
    #[error("stored quota of user {0} is not valid")]
    Corrupt(Uuid),
}

/// Limits on what one user may hold; `None` means unlimited.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Quota {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instances: Option<u32>,
    /// Total cpu cores over all instances.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu: Option<f64>,
    /// Total memory in bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<u64>,
    /// Total disk in bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disk: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshots: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forwards: Option<u32>,
    /// Host ports the user may forward from, inclusive.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Vec<u16>>)]
    pub port_range: Option<(u16, u16)>,
}

/// What a user holds, or what one target asks for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Usage {
    pub instances: u32,
    pub cpu: f64,
    pub memory: u64,
    pub disk: u64,
    pub snapshots: u32,
    pub forwards: u32,
}

impl Usage {
    /// What one instance with `limits` holds (unset limits count as zero; see
    /// [`Quota::require_limits`]).
    pub fn instance(limits: &Limits) -> Self {
        Self {
            instances: 1,
            cpu: limits.cpu.unwrap_or(0.0),
            memory: limits.memory.unwrap_or(0),
            disk: limits.disk.unwrap_or(0),
            ..Self::default()
        }
    }
}

impl Quota {
    /// Checks the quota itself; errors name `quota.<field>`. Totals may be at most a million
    /// times the most one instance may have: beyond that they would mean nothing.
    pub fn validate(&self) -> Result<(), FieldError> {
        if let Some(cpu) = self.cpu
            && !(cpu.is_finite() && (0.0..=MAX_CPU * 1e6).contains(&cpu))
        {
            return Err(FieldError::new(
                "quota.cpu",
                format!("must be a number of cores from 0 to {}", MAX_CPU * 1e6),
            ));
        }
        for (field, value, max) in [
            ("memory", self.memory, MAX_MEMORY.saturating_mul(1 << 16)),
            ("disk", self.disk, MAX_DISK.saturating_mul(1 << 10)),
        ] {
            if value.is_some_and(|v| v > max) {
                return Err(FieldError::new(
                    format!("quota.{field}"),
                    format!("is more than {max} bytes; leave it out for no limit"),
                ));
            }
        }
        if let Some((low, high)) = self.port_range
            && (low == 0 || low > high)
        {
            return Err(FieldError::new(
                "quota.port_range",
                "give [low, high] with 1 <= low <= high <= 65535",
            ));
        }
        Ok(())
    }

    /// An instance's limits must be given for every resource this quota caps (an unlimited
    /// instance would escape it). Errors name `limits.<field>`.
    pub fn require_limits(&self, limits: &Limits) -> Result<(), FieldError> {
        let missing = [
            ("cpu", self.cpu.is_some() && limits.cpu.is_none()),
            ("memory", self.memory.is_some() && limits.memory.is_none()),
            ("disk", self.disk.is_some() && limits.disk.is_none()),
        ];
        match missing.iter().find(|(_, missing)| *missing) {
            Some((field, _)) => Err(FieldError::new(
                format!("limits.{field}"),
                format!("is required: your quota caps total {field}"),
            )),
            None => Ok(()),
        }
    }

    /// Whether the user may forward host port `port`.
    pub fn check_port(&self, port: u16) -> Result<(), QuotaError> {
        match self.port_range {
            Some((low, high)) if !(low..=high).contains(&port) => {
                Err(QuotaError::PortOutsideRange { port, low, high })
            }
            _ => Ok(()),
        }
    }

    /// The first limit `after` passes where it grew from `before`.
    fn check(&self, before: &Ledger, after: &Ledger) -> Result<(), QuotaError> {
        let counts = [
            (
                "instances",
                self.instances.map(u64::from),
                before.0[0],
                after.0[0],
            ),
            ("cpu", self.cpu.map(to_milli), before.0[1], after.0[1]),
            ("memory", self.memory, before.0[2], after.0[2]),
            ("disk", self.disk, before.0[3], after.0[3]),
            (
                "snapshots",
                self.snapshots.map(u64::from),
                before.0[4],
                after.0[4],
            ),
            (
                "forwards",
                self.forwards.map(u64::from),
                before.0[5],
                after.0[5],
            ),
        ];
        for (resource, limit, before, after) in counts {
            if let Some(limit) = limit
                && after > limit
                && after > before
            {
                let show = |v: u64| match resource {
                    "cpu" => format!("{}", v as f64 / 1000.0),
                    "memory" | "disk" => berth_types::units::format_bytes(v),
                    _ => v.to_string(),
                };
                return Err(QuotaError::Exceeded {
                    resource,
                    limit: show(limit),
                    would_be: show(after),
                });
            }
        }
        Ok(())
    }
}

const COLUMNS: &str = "instances, cpu_milli, memory, disk, snapshots, forwards";

/// The sum of the rows `filter` selects (after `WHERE user_id = ?1`), added in Rust with
/// saturating arithmetic: SQLite's `SUM` over 64-bit integers fails on overflow, which turned
/// an owner's every call into a 500.
fn sum_rows(
    conn: &rusqlite::Connection,
    filter: &str,
    params: impl rusqlite::Params,
) -> rusqlite::Result<Ledger> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {COLUMNS} FROM quota_reservations WHERE user_id = ?1 {filter}"
    ))?;
    let rows = stmt.query_map(params, Ledger::read)?;
    rows.into_iter()
        .try_fold(Ledger::default(), |sum, row| Ok(sum.plus(&row?)))
}

impl AuthDb {
    /// Reserves `amount` for `target` of `user_id`, replacing an earlier reservation of the same
    /// target (so a resize reserves the difference), if the user's quota allows it. Shrinking
    /// always succeeds, even for a user already over a lowered quota.
    pub fn reserve(&self, user_id: Uuid, target: &str, amount: &Usage) -> Result<(), QuotaError> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let quota: String = tx
            .query_row(
                "SELECT quota FROM users WHERE id = ?1",
                [user_id.to_string()],
                |row| row.get(0),
            )
            .optional()?
            .ok_or(QuotaError::NoSuchUser)?;
        let quota: Quota =
            serde_json::from_str(&quota).map_err(|_| QuotaError::Corrupt(user_id))?;
        let total = sum_rows(&tx, "", [user_id.to_string()])?;
        let previous = sum_rows(&tx, "AND target = ?2", params![user_id.to_string(), target])?;
        let amount = Ledger::of(amount);
        quota.check(&total, &total.minus(&previous).plus(&amount))?;
        let v = amount.0.map(|v| i64::try_from(v).unwrap_or(i64::MAX));
        tx.execute(
            "INSERT OR REPLACE INTO quota_reservations
             (user_id, target, instances, cpu_milli, memory, disk, snapshots, forwards)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![
                user_id.to_string(),
                target,
                v[0],
                v[1],
                v[2],
                v[3],
                v[4],
                v[5]
            ],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// Frees what `target` held; false if it held nothing.
    pub fn release(&self, user_id: Uuid, target: &str) -> Result<bool, QuotaError> {
        Ok(self.conn().execute(
            "DELETE FROM quota_reservations WHERE user_id = ?1 AND target = ?2",
            params![user_id.to_string(), target],
        )? > 0)
    }

    /// Frees `target` and every target under it (`instance:<id>` and `instance:<id>:…`).
    pub fn release_under(&self, user_id: Uuid, target: &str) -> Result<usize, QuotaError> {
        Ok(self.conn().execute(
            "DELETE FROM quota_reservations
             WHERE user_id = ?1 AND (target = ?2 OR substr(target, 1, length(?2) + 1) = ?2 || ':')",
            params![user_id.to_string(), target],
        )?)
    }

    /// Replaces the whole ledger with what exists (at start, when no operation is under way),
    /// so reservations lost to a crash or made before quotas existed are counted right.
    /// Rows for users that no longer exist are skipped.
    pub fn rebuild_ledger(&self, held: &[(Uuid, String, Usage)]) -> Result<(), QuotaError> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute("DELETE FROM quota_reservations", [])?;
        for (user_id, target, amount) in held {
            let v = Ledger::of(amount)
                .0
                .map(|v| i64::try_from(v).unwrap_or(i64::MAX));
            tx.execute(
                "INSERT OR REPLACE INTO quota_reservations
                 (user_id, target, instances, cpu_milli, memory, disk, snapshots, forwards)
                 SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8 WHERE EXISTS (SELECT 1 FROM users WHERE id = ?1)",
                params![user_id.to_string(), target, v[0], v[1], v[2], v[3], v[4], v[5]],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    /// What `user_id` holds now.
    pub fn usage(&self, user_id: Uuid) -> Result<Usage, QuotaError> {
        Ok(sum_rows(&self.conn(), "", [user_id.to_string()])?.usage())
    }
}

#[cfg(test)]
mod tests;
