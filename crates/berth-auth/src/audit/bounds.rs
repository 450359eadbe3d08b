//! Bounds on the audit log, so no caller can grow it without limit: every stored field is
//! clipped (parameters to a few KiB after redaction), and the table is capped by entry count
//! and by bytes as well as by age — the oldest entries go first, and a counter in
//! `audit_counters` keeps how many the caps dropped.

use std::sync::atomic::Ordering;

use rusqlite::{OptionalExtension, params};
use serde_json::{Map, Value};

use super::AuditError;
use crate::AuthDb;

/// The most bytes of parameters one entry keeps (after redaction).
pub const MAX_PARAMS_BYTES: usize = 4096;
/// The most bytes a string inside the parameters keeps when they must shrink.
const MAX_PARAM_STRING: usize = 256;
/// The most items an array inside the parameters keeps when they must shrink.
const MAX_PARAM_ITEMS: usize = 16;
/// The most keys a summary of oversized parameters names.
const MAX_SUMMARY_KEYS: usize = 32;
/// The caps are checked once every this many appends at most (a tenth of the entry cap when
/// that is less, so the table never overshoots its cap by more than a tenth), and at each
/// hourly prune.
pub(crate) const ENFORCE_EVERY: u64 = 256;
/// The counter of entries the caps dropped.
const DROPPED: &str = "dropped";

/// The most the audit table may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuditBounds {
    pub max_entries: u64,
    /// Bytes of stored text (parameters, names, addresses, results) over all entries.
    pub max_bytes: u64,
}

impl Default for AuditBounds {
    fn default() -> Self {
        Self {
            max_entries: 100_000,
            max_bytes: 64 << 20,
        }
    }
}

/// `text` cut to at most `max` bytes at a character boundary, `…` marking a cut.
pub fn clip(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let mut end = max.saturating_sub('…'.len_utf8());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

/// Parameters as stored: at most [`MAX_PARAMS_BYTES`] of JSON. Too big, long strings and
/// arrays are shortened first; still too big, a summary replaces them (size and keys).
pub fn capped(params: &Value) -> String {
    let text = params.to_string();
    if text.len() <= MAX_PARAMS_BYTES {
        return text;
    }
    let shrunk = shrink(params).to_string();
    if shrunk.len() <= MAX_PARAMS_BYTES {
        return shrunk;
    }
    let mut summary = Map::new();
    summary.insert("truncated".into(), Value::Bool(true));
    summary.insert("bytes".into(), Value::from(text.len()));
    if let Value::Object(map) = params {
        let keys = map
            .keys()
            .take(MAX_SUMMARY_KEYS)
            .map(|k| Value::String(clip(k, 64)))
            .collect();
        summary.insert("keys".into(), Value::Array(keys));
    }
    Value::Object(summary).to_string()
}

fn shrink(value: &Value) -> Value {
    match value {
        Value::String(s) => Value::String(clip(s, MAX_PARAM_STRING)),
        Value::Array(items) => {
            let mut kept: Vec<Value> = items.iter().take(MAX_PARAM_ITEMS).map(shrink).collect();
            if items.len() > MAX_PARAM_ITEMS {
                kept.push(Value::String(format!(
                    "… {} more",
                    items.len() - MAX_PARAM_ITEMS
                )));
            }
            Value::Array(kept)
        }
        Value::Object(map) => {
            Value::Object(map.iter().map(|(k, v)| (clip(k, 64), shrink(v))).collect())
        }
        other => other.clone(),
    }
}

/// The stored size of one row, as SQL.
const ROW_BYTES: &str = "length(params) + length(actor) + length(action) + length(target) \
     + ifnull(length(ip), 0) + ifnull(length(user_agent), 0) + length(result) + 48";

impl AuthDb {
    /// Sets the caps [`AuthDb::enforce_audit_bounds`] keeps the table under.
    pub fn set_audit_bounds(&self, bounds: AuditBounds) {
        *self.audit_bounds.lock().unwrap_or_else(|p| p.into_inner()) = bounds;
    }

    fn audit_bounds(&self) -> AuditBounds {
        *self.audit_bounds.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Called after each append: every few appends, the caps are enforced.
    pub(super) fn after_append(&self) -> Result<(), AuditError> {
        let every = (self.audit_bounds().max_entries / 10).clamp(1, ENFORCE_EVERY);
        if self
            .audit_appends
            .fetch_add(1, Ordering::Relaxed)
            .is_multiple_of(every)
        {
            self.enforce_audit_bounds()?;
        }
        Ok(())
    }

    /// Drops the oldest entries while the table is over a cap, down to 90 % of it (so this
    /// does not run on every append), and adds them to the dropped counter. Returns how many
    /// were dropped now.
    pub fn enforce_audit_bounds(&self) -> Result<u64, AuditError> {
        let bounds = self.audit_bounds();
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let count: i64 = tx.query_row("SELECT COUNT(*) FROM audit_log", [], |row| row.get(0))?;
        let count = count.max(0) as u64;
        let mut dropped = 0u64;
        if count > bounds.max_entries {
            let excess = count - bounds.max_entries.saturating_mul(9) / 10;
            dropped += tx.execute(
                "DELETE FROM audit_log WHERE id IN (SELECT id FROM audit_log ORDER BY id LIMIT ?1)",
                [i64::try_from(excess).unwrap_or(i64::MAX)],
            )? as u64;
        }
        let bytes: i64 = tx.query_row(
            &format!("SELECT ifnull(SUM({ROW_BYTES}), 0) FROM audit_log"),
            [],
            |row| row.get(0),
        )?;
        let bytes = bytes.max(0) as u64;
        if bytes > bounds.max_bytes {
            let excess = bytes - bounds.max_bytes.saturating_mul(9) / 10;
            let cut: Option<i64> = tx
                .query_row(
                    &format!(
                        "SELECT id FROM (SELECT id, SUM({ROW_BYTES}) OVER (ORDER BY id) AS run
                         FROM audit_log) WHERE run >= ?1 ORDER BY id LIMIT 1"
                    ),
                    [i64::try_from(excess).unwrap_or(i64::MAX)],
                    |row| row.get(0),
                )
                .optional()?;
            if let Some(cut) = cut {
                dropped += tx.execute("DELETE FROM audit_log WHERE id <= ?1", [cut])? as u64;
            }
        }
        if dropped > 0 {
            tx.execute(
                "INSERT INTO audit_counters (name, value) VALUES (?1, ?2)
                 ON CONFLICT(name) DO UPDATE SET value = value + excluded.value",
                params![DROPPED, i64::try_from(dropped).unwrap_or(i64::MAX)],
            )?;
        }
        tx.commit()?;
        Ok(dropped)
    }

    /// How many entries the caps have dropped, ever.
    pub fn audit_dropped(&self) -> Result<u64, AuditError> {
        let value: Option<i64> = self
            .conn()
            .query_row(
                "SELECT value FROM audit_counters WHERE name = ?1",
                [DROPPED],
                |row| row.get(0),
            )
            .optional()?;
        Ok(value.unwrap_or(0).max(0) as u64)
    }
}
