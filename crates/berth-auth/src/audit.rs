//! The audit log: who (user or token) did what to which target, with which parameters (secrets
//! removed), from where, and how it ended. Newest first, paged by id, pruned by age.

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
    /// Appends an entry (params redacted) and returns its id.
    pub fn append_audit(&self, entry: &NewAuditEntry<'_>) -> Result<i64, AuditError> {
        let params = redact(entry.params).to_string();
        let conn = self.conn();
        conn.execute(
            "INSERT INTO audit_log (at, actor, user_id, action, target, params, ip, user_agent, result)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            params![
                to_millis(now()),
                entry.actor,
                entry.user_id.map(|id| id.to_string()),
                entry.action,
                entry.target,
                params,
                entry.client.ip,
                entry.client.user_agent,
                entry.result
            ],
        )?;
        Ok(conn.last_insert_rowid())
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
mod tests {
    use serde_json::json;

    use super::*;
    use crate::db::temp_db;

    #[test]
    fn nested_secrets_are_redacted() {
        let params = json!({
            "name": "web1",
            "password": "hunter22",
            "Root_Password": "x",
            "limits": {"cpu": 1},
            "wireguard": {"private_key": "k", "peers": [{"preshared_key": "p", "endpoint": "e"}]},
            "proxmox": {"token_secret": "s", "token_id": "berth@pve!x"},
            "auth": {"token": "t", "refresh_token": "r", "secret": {"deep": 1}},
        });
        let redacted = redact(&params);
        let text = redacted.to_string();
        for secret in [
            "hunter22", "\"k\"", "\"p\"", "\"s\"", "\"t\"", "\"r\"", "deep",
        ] {
            assert!(!text.contains(secret), "{secret} in {text}");
        }
        assert_eq!(redacted["wireguard"]["peers"][0]["endpoint"], "e");
        assert_eq!(redacted["wireguard"]["peers"][0]["preshared_key"], REDACTED);
        assert_eq!(redacted["proxmox"]["token_id"], "berth@pve!x");
        assert_eq!(redacted["Root_Password"], REDACTED);
        assert_eq!(redacted["limits"], json!({"cpu": 1}));
        let create = json!({"name": "vpn", "wireguard": "[Interface]\nPrivateKey = k\n"});
        assert_eq!(redact(&create)["wireguard"], REDACTED);
        let uplink = json!({"mode": "wireguard", "config": "[Interface]\nPrivateKey = k\n"});
        assert_eq!(redact(&uplink)["config"], REDACTED);
        assert_eq!(redact(&uplink)["mode"], "wireguard");
    }

    #[test]
    fn append_list_page_filter_and_prune() -> Result<(), Box<dyn std::error::Error>> {
        let (_dir, db) = temp_db();
        let alice = Uuid::new_v4();
        let client = ClientInfo {
            ip: Some("192.0.2.7".into()),
            user_agent: Some("curl/8".into()),
        };
        for i in 0..5 {
            db.append_audit(&NewAuditEntry {
                actor: if i % 2 == 0 { "alice" } else { "admin" },
                user_id: (i % 2 == 0).then_some(alice),
                action: "instance.create",
                target: &format!("web{i}"),
                params: &json!({"password": "hunter22", "n": i}),
                client: &client,
                result: "success",
            })?;
        }
        let all = db.audit(&AuditFilter::default())?;
        assert_eq!(all.len(), 5);
        assert_eq!(all[0].target, "web4");
        assert_eq!(all[0].params, json!({"password": REDACTED, "n": 4}));
        assert_eq!(all[0].ip.as_deref(), Some("192.0.2.7"));
        let own = db.audit(&AuditFilter {
            user_id: Some(alice),
            ..AuditFilter::default()
        })?;
        assert_eq!(
            own.iter().map(|e| e.target.as_str()).collect::<Vec<_>>(),
            ["web4", "web2", "web0"]
        );
        let by_actor = db.audit(&AuditFilter {
            actor: Some("admin".into()),
            ..AuditFilter::default()
        })?;
        assert_eq!(by_actor.len(), 2);
        let page = db.audit(&AuditFilter {
            limit: 2,
            ..AuditFilter::default()
        })?;
        let next = db.audit(&AuditFilter {
            limit: 2,
            before: page.last().map(|e| e.id),
            ..AuditFilter::default()
        })?;
        assert_eq!(
            next.iter().map(|e| e.target.as_str()).collect::<Vec<_>>(),
            ["web2", "web1"]
        );
        assert_eq!(db.prune_audit(Utc::now() - chrono::Duration::days(1))?, 0);
        assert_eq!(
            db.prune_audit(Utc::now() + chrono::Duration::seconds(1))?,
            5
        );
        assert!(db.audit(&AuditFilter::default())?.is_empty());
        Ok(())
    }
}
