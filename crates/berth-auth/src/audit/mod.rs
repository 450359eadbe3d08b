//! The audit log: who (user or token) did what to which target, with which parameters (secrets
//! removed), from where, and how it ended. Newest first, paged by id, pruned by age, and
//! bounded in size (see [`bounds`]).

mod bounds;

pub use bounds::{AuditBounds, MAX_PARAMS_BYTES, capped, clip};

use chrono::{DateTime, Utc};
use rusqlite::{Row, params};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use crate::db::{from_millis, now, to_millis};
use crate::{AuthDb, ClientInfo};

#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error("database")]
    Sqlite(#[from] rusqlite::Error),
}

/// What replaces a secret in logged parameters.
pub const REDACTED: &str = "<redacted>";
/// Keys whose values are always removed (compared case-insensitively).
const SECRET_KEYS: &[&str] = &[
    "password",
    "token",
    "secret",
    "private_key",
    "preshared_key",
    "token_secret",
];
/// Key endings that also mark a secret: `root_password`, `refresh_token`, `client_secret`, …
const SECRET_SUFFIXES: &[&str] = &[
    "password",
    "_token",
    "_secret",
    "private_key",
    "preshared_key",
];

/// Keys whose value, when it is text, is a whole config holding a secret (a wg-quick file with
/// its `PrivateKey`, the uplink's `config`); as an object it is walked like any other.
const SECRET_TEXT_KEYS: &[&str] = &["wireguard", "config"];

/// Largest page [`AuthDb::audit`] returns.
pub const MAX_PAGE: u32 = 1000;

/// One logged action.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AuditEntry {
    pub id: i64,
    pub at: DateTime<Utc>,
    /// Username, `username/token-name`, or e.g. `anonymous` for a failed login.
    pub actor: String,
    /// The acting user, when known (what a user's own `GET /audit` filters on).
    pub user_id: Option<Uuid>,
    /// E.g. `instance.create`, `auth.login`.
    pub action: String,
    /// E.g. the instance name; empty when there is none.
    pub target: String,
    /// The request's parameters with secrets replaced by `<redacted>`.
    pub params: Value,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    /// `success`, `denied`, or `failure: <reason>`.
    pub result: String,
}

/// An entry to append; `params` are redacted on the way in.
#[derive(Debug, Clone)]
pub struct NewAuditEntry<'a> {
    pub actor: &'a str,
    pub user_id: Option<Uuid>,
    pub action: &'a str,
    pub target: &'a str,
    pub params: &'a Value,
    pub client: &'a ClientInfo,
    pub result: &'a str,
}

/// Which entries to list. `before` pages backwards: pass the last id of the previous page.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    pub user_id: Option<Uuid>,
    pub actor: Option<String>,
    pub before: Option<i64>,
    /// At most this many (0 = 100; capped at [`MAX_PAGE`]).
    pub limit: u32,
}

fn is_secret_key(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    SECRET_KEYS.contains(&key.as_str()) || SECRET_SUFFIXES.iter().any(|s| key.ends_with(s))
}

/// `value` with the value of every secret-named key, at any depth, replaced by `<redacted>`.
pub fn redact(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(key, value)| {
                    let secret_text = value.is_string()
                        && SECRET_TEXT_KEYS.contains(&key.to_ascii_lowercase().as_str());
                    let value = if is_secret_key(key) || secret_text {
                        Value::String(REDACTED.to_owned())
                    } else {
                        redact(value)
                    };
                    (key.clone(), value)
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(redact).collect()),
        other => other.clone(),
    }
}

fn from_row(row: &Row<'_>) -> rusqlite::Result<AuditEntry> {
    let params: String = row.get(6)?;
    Ok(AuditEntry {
        id: row.get(0)?,
        at: from_millis(row.get(1)?),
        actor: row.get(2)?,
        user_id: row
            .get::<_, Option<String>>(3)?
            .and_then(|id| Uuid::parse_str(&id).ok()),
        action: row.get(4)?,
        target: row.get(5)?,
        params: serde_json::from_str(&params).unwrap_or(Value::String(params)),
        ip: row.get(7)?,
        user_agent: row.get(8)?,
        result: row.get(9)?,
    })
}

impl AuthDb {
    /// Appends an entry (params redacted, then capped; every text clipped) and returns its id.
    pub fn append_audit(&self, entry: &NewAuditEntry<'_>) -> Result<i64, AuditError> {
        let params = capped(&redact(entry.params));
        let id = {
            let conn = self.conn();
            conn.execute(
                "INSERT INTO audit_log (at, actor, user_id, action, target, params, ip, user_agent, result)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                params![
                    to_millis(now()),
                    clip(entry.actor, 128),
                    entry.user_id.map(|id| id.to_string()),
                    clip(entry.action, 64),
                    clip(entry.target, 256),
                    params,
                    entry.client.ip.as_deref().map(|ip| clip(ip, 64)),
                    entry.client.user_agent.as_deref().map(|ua| clip(ua, 256)),
                    clip(entry.result, 512)
                ],
            )?;
            conn.last_insert_rowid()
        };
        self.after_append()?;
        Ok(id)
    }

    /// Entries matching `filter`, newest first.
    pub fn audit(&self, filter: &AuditFilter) -> Result<Vec<AuditEntry>, AuditError> {
        let limit = match filter.limit {
            0 => 100,
            n => n.min(MAX_PAGE),
        };
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT id, at, actor, user_id, action, target, params, ip, user_agent, result
             FROM audit_log
             WHERE (?1 IS NULL OR user_id = ?1) AND (?2 IS NULL OR actor = ?2)
               AND (?3 IS NULL OR id < ?3)
             ORDER BY id DESC LIMIT ?4",
        )?;
        let rows = stmt.query_map(
            params![
                filter.user_id.map(|id| id.to_string()),
                filter.actor,
                filter.before,
                limit
            ],
            from_row,
        )?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Deletes entries older than `before` (retention); returns how many.
    pub fn prune_audit(&self, before: DateTime<Utc>) -> Result<usize, AuditError> {
        Ok(self
            .conn()
            .execute("DELETE FROM audit_log WHERE at < ?1", [to_millis(before)])?)
    }
}

#[cfg(test)]
mod tests;
