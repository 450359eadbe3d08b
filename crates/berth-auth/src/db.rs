//! The SQLite tables berth-auth owns, with their own schema version (in `auth_schema`, so the
//! store's `PRAGMA user_version` stays the store's). They may live in the store's database file:
//! open a second connection to it; SQLite's locking serialises writers across connections.

use std::path::Path;
use std::sync::atomic::AtomicU64;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use chrono::{DateTime, Utc};
use rusqlite::Connection;

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("auth database")]
    Sqlite(#[from] rusqlite::Error),
    #[error(
        "auth schema version {found} is newer than this berthd understands ({known}); upgrade berthd"
    )]
    TooNew { found: i64, known: i64 },
}

/// Migration N (1-based) brings the auth schema from version N-1 to N. Append, never edit.
/// Times are INTEGER milliseconds since the Unix epoch (UTC) so SQL can compare them.
const MIGRATIONS: &[&str] = &[
    // 1: users, sessions, API tokens, quota ledger, audit log.
    "CREATE TABLE users (
        id            TEXT PRIMARY KEY,
        username      TEXT NOT NULL UNIQUE,
        role          TEXT NOT NULL,
        password_hash TEXT NOT NULL,
        quota         TEXT NOT NULL,
        created_at    INTEGER NOT NULL
    );
    CREATE TABLE sessions (
        id            TEXT PRIMARY KEY,
        user_id       TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        refresh_hash  BLOB NOT NULL UNIQUE,
        created_at    INTEGER NOT NULL,
        expires_at    INTEGER NOT NULL,
        revoked_at    INTEGER,
        ip            TEXT,
        user_agent    TEXT
    );
    CREATE INDEX sessions_user ON sessions(user_id);
    CREATE TABLE api_tokens (
        id            TEXT PRIMARY KEY,
        user_id       TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        name          TEXT NOT NULL,
        scope         TEXT NOT NULL,
        secret_hash   BLOB NOT NULL,
        created_at    INTEGER NOT NULL,
        expires_at    INTEGER,
        last_used_at  INTEGER,
        UNIQUE (user_id, name)
    );
    CREATE TABLE quota_reservations (
        user_id       TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        target        TEXT NOT NULL,
        instances     INTEGER NOT NULL,
        cpu_milli     INTEGER NOT NULL,
        memory        INTEGER NOT NULL,
        disk          INTEGER NOT NULL,
        snapshots     INTEGER NOT NULL,
        forwards      INTEGER NOT NULL,
        PRIMARY KEY (user_id, target)
    );
    CREATE TABLE audit_log (
        id            INTEGER PRIMARY KEY AUTOINCREMENT,
        at            INTEGER NOT NULL,
        actor         TEXT NOT NULL,
        user_id       TEXT,
        action        TEXT NOT NULL,
        target        TEXT NOT NULL,
        params        TEXT NOT NULL,
        ip            TEXT,
        user_agent    TEXT,
        result        TEXT NOT NULL
    );
    CREATE INDEX audit_at ON audit_log(at);
    CREATE INDEX audit_user ON audit_log(user_id, id);",
    // 2: an email address per user, for alert notifications.
    "ALTER TABLE users ADD COLUMN email TEXT;",
    // 3: counters of the audit log's size caps; refresh tokens already rotated away, so a
    // reuse is recognised (and ends its session).
    "CREATE TABLE audit_counters (
        name          TEXT PRIMARY KEY,
        value         INTEGER NOT NULL
    );
    CREATE TABLE refresh_used (
        hash          BLOB PRIMARY KEY,
        session_id    TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
        used_at       INTEGER NOT NULL
    );
    CREATE INDEX refresh_used_session ON refresh_used(session_id);",
];

/// berth-auth's handle on its tables. Calls hold the connection for one statement or
/// transaction; password hashing happens outside it.
pub struct AuthDb {
    conn: Mutex<Connection>,
    /// The caps the audit log is kept under, and appends since start (they are enforced every
    /// few hundred appends).
    pub(crate) audit_bounds: Mutex<crate::AuditBounds>,
    pub(crate) audit_appends: AtomicU64,
}

impl AuthDb {
    /// Opens (creating if needed) the database at `path` — typically the store's own file — in
    /// WAL mode and brings the auth tables up to date.
    pub fn open(path: &Path) -> Result<Self, DbError> {
        let conn = Connection::open(path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        Self::from_connection(conn)
    }

    /// Uses a connection the caller opened (e.g. in memory, for tests).
    pub fn from_connection(mut conn: Connection) -> Result<Self, DbError> {
        conn.busy_timeout(Duration::from_secs(10))?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        migrate(&mut conn)?;
        Ok(Self {
            conn: Mutex::new(conn),
            audit_bounds: Mutex::default(),
            audit_appends: AtomicU64::new(0),
        })
    }

    pub(crate) fn conn(&self) -> MutexGuard<'_, Connection> {
        self.conn
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The auth schema version the database is at.
    pub fn schema_version(&self) -> Result<i64, DbError> {
        Ok(version(&self.conn())?)
    }
}

fn version(conn: &Connection) -> rusqlite::Result<i64> {
    berth_store::counted::counted_version(conn, "auth_schema")
}

fn migrate(conn: &mut Connection) -> Result<(), DbError> {
    berth_store::counted::apply_counted(conn, "auth_schema", MIGRATIONS)?
        .map_err(|(found, known)| DbError::TooNew { found, known })
}

/// A time as stored: milliseconds since the epoch.
pub(crate) fn to_millis(at: DateTime<Utc>) -> i64 {
    at.timestamp_millis()
}

/// Now, at the millisecond precision times are stored with.
pub(crate) fn now() -> DateTime<Utc> {
    from_millis(to_millis(Utc::now()))
}

/// A stored time; out-of-range values (never written by us) read as the epoch.
pub(crate) fn from_millis(millis: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(millis).unwrap_or_default()
}

/// True if the error is a UNIQUE or PRIMARY KEY violation.
pub(crate) fn is_unique_violation(err: &rusqlite::Error) -> bool {
    matches!(err, rusqlite::Error::SqliteFailure(e, _)
        if e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
            || e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY)
}

#[cfg(test)]
pub(crate) fn temp_db() -> (tempfile::TempDir, AuthDb) {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = AuthDb::open(&dir.path().join("berth.db")).expect("open");
    (dir, db)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_apply_once_and_refuse_newer() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("berth.db");
        // The store's own version is untouched.
        Connection::open(&path)?.pragma_update(None, "user_version", 3)?;
        let known = MIGRATIONS.len() as i64;
        assert_eq!(AuthDb::open(&path)?.schema_version()?, known);
        assert_eq!(AuthDb::open(&path)?.schema_version()?, known);
        let conn = Connection::open(&path)?;
        let store_version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        assert_eq!(store_version, 3);
        conn.execute("UPDATE auth_schema SET version = 99", [])?;
        assert!(matches!(
            AuthDb::open(&path),
            Err(DbError::TooNew { found: 99, .. })
        ));
        Ok(())
    }
}
