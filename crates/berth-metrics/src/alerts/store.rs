//! Alert rules, per rule-and-instance state, and the event history, in the metrics tables.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use berth_types::metrics::{AlertDelivery, AlertEvent, AlertRule, DeliveryStatus};
use rusqlite::{Connection, OptionalExtension, params};

use crate::db::DbError;

/// What is remembered about one rule on one instance.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RuleState {
    pub firing: bool,
    pub last_notified: Option<i64>,
    /// Whether the current (or last) firing was notified, so its resolution is too.
    pub firing_notified: bool,
}

pub struct AlertStore {
    conn: Mutex<Connection>,
}

fn json<T: serde::de::DeserializeOwned>(text: &str) -> Option<T> {
    serde_json::from_str(text).ok()
}

fn to_json<T: serde::Serialize>(v: &T) -> String {
    // Our own plain types serialise infallibly.
    serde_json::to_string(v).unwrap_or_default()
}

impl AlertStore {
    pub fn new(conn: Connection) -> Self {
        Self {
            conn: Mutex::new(conn),
        }
    }

    fn conn(&self) -> MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Adds the default rules once per database (not again after the admin deletes them).
    pub fn seed(&self, rules: &[AlertRule]) -> Result<bool, DbError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let seeded = tx.execute(
            "INSERT OR IGNORE INTO metrics_kv (key, value) VALUES ('alerts_seeded', '1')",
            [],
        )? == 1;
        if seeded {
            for rule in rules {
                insert(&tx, rule, 0)?;
            }
        }
        tx.commit()?;
        Ok(seeded)
    }

    pub fn insert(&self, rule: &AlertRule, now: i64) -> Result<(), DbError> {
        insert(&self.conn(), rule, now)
    }

    pub fn update(&self, rule: &AlertRule) -> Result<(), DbError> {
        self.conn().execute(
            "UPDATE alert_rules SET body = ?2 WHERE id = ?1",
            params![rule.id, to_json(rule)],
        )?;
        Ok(())
    }

    pub fn delete(&self, id: &str) -> Result<bool, DbError> {
        let conn = self.conn();
        conn.execute("DELETE FROM alert_state WHERE rule_id = ?1", [id])?;
        Ok(conn.execute("DELETE FROM alert_rules WHERE id = ?1", [id])? == 1)
    }

    pub fn get(&self, id: &str) -> Result<Option<AlertRule>, DbError> {
        let body: Option<String> = self
            .conn()
            .query_row("SELECT body FROM alert_rules WHERE id = ?1", [id], |r| {
                r.get(0)
            })
            .optional()?;
        Ok(body.as_deref().and_then(json))
    }

    /// Every rule, oldest first.
    pub fn rules(&self) -> Result<Vec<AlertRule>, DbError> {
        let conn = self.conn();
        let mut stmt =
            conn.prepare_cached("SELECT body FROM alert_rules ORDER BY created_at, id")?;
        let bodies = stmt
            .query_map([], |r| r.get::<_, String>(0))?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(bodies.iter().filter_map(|b| json(b)).collect())
    }

    /// The state of every (rule, instance) pair that has one.
    pub fn states(&self) -> Result<HashMap<(String, String), RuleState>, DbError> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(
            "SELECT rule_id, instance, firing, last_notified, firing_notified FROM alert_state",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok((
                (r.get(0)?, r.get(1)?),
                RuleState {
                    firing: r.get(2)?,
                    last_notified: r.get(3)?,
                    firing_notified: r.get(4)?,
                },
            ))
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub fn set_state(&self, rule: &str, instance: &str, s: RuleState) -> Result<(), DbError> {
        self.conn().execute(
            "INSERT OR REPLACE INTO alert_state (rule_id, instance, firing, last_notified, firing_notified)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![rule, instance, s.firing, s.last_notified, s.firing_notified],
        )?;
        Ok(())
    }

    /// Appends an event (its `id` is assigned) and returns it.
    pub fn add_event(&self, mut event: AlertEvent) -> Result<AlertEvent, DbError> {
        let conn = self.conn();
        conn.execute(
            "INSERT INTO alert_events (owner, body, time) VALUES (?1, ?2, ?3)",
            params![event.owner, to_json(&event), event.time],
        )?;
        event.id = conn.last_insert_rowid();
        Ok(event)
    }

    /// Records what became of an event's notifications (and the failures as its `error`).
    pub fn set_event_deliveries(
        &self,
        id: i64,
        deliveries: Vec<AlertDelivery>,
    ) -> Result<(), DbError> {
        let conn = self.conn();
        let body: Option<String> = conn
            .query_row("SELECT body FROM alert_events WHERE id = ?1", [id], |r| {
                r.get(0)
            })
            .optional()?;
        if let Some(mut event) = body.as_deref().and_then(json::<AlertEvent>) {
            let failures: Vec<String> = deliveries
                .iter()
                .filter(|d| d.status == DeliveryStatus::Failed)
                .map(|d| {
                    let to = d.to.as_deref().unwrap_or("?");
                    let why = d.detail.as_deref().unwrap_or("failed");
                    format!("{} to {to}: {why}", d.channel.as_str())
                })
                .collect();
            event.error = (!failures.is_empty()).then(|| failures.join("; "));
            event.deliveries = Some(deliveries);
            conn.execute(
                "UPDATE alert_events SET body = ?2 WHERE id = ?1",
                params![id, to_json(&event)],
            )?;
        }
        Ok(())
    }

    /// Events newest first: everyone's (`owner` `None`) or one user's, at most `limit`.
    pub fn events(&self, owner: Option<&str>, limit: u32) -> Result<Vec<AlertEvent>, DbError> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(
            "SELECT id, body FROM alert_events WHERE (?1 IS NULL OR owner = ?1)
             ORDER BY id DESC LIMIT ?2",
        )?;
        let rows = stmt
            .query_map(params![owner, limit], |r| {
                Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows
            .into_iter()
            .filter_map(|(id, body)| {
                let mut e: AlertEvent = json(&body)?;
                e.id = id;
                Some(e)
            })
            .collect())
    }

    /// Deletes events older than `before` (unix seconds).
    pub fn prune_events(&self, before: i64) -> Result<usize, DbError> {
        Ok(self
            .conn()
            .execute("DELETE FROM alert_events WHERE time < ?1", [before])?)
    }
}

fn insert(conn: &Connection, rule: &AlertRule, now: i64) -> Result<(), DbError> {
    conn.execute(
        "INSERT INTO alert_rules (id, owner, body, created_at) VALUES (?1, ?2, ?3, ?4)",
        params![rule.id, rule.owner, to_json(rule), now],
    )?;
    Ok(())
}
