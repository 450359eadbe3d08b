//! The SQLite tables berth-metrics owns, with their own schema version (in `metrics_schema`, so
//! the store's `PRAGMA user_version` and berth-auth's `auth_schema` stay theirs). They live in the
//! store's database file through a connection of their own.

use std::path::Path;
use std::time::Duration;

use rusqlite::Connection;

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("metrics database")]
    Sqlite(#[from] rusqlite::Error),
    #[error(
        "metrics schema version {found} is newer than this berthd understands ({known}); upgrade berthd"
    )]
    TooNew { found: i64, known: i64 },
}

/// Migration N (1-based) brings the metrics schema from version N-1 to N. Append, never edit.
const MIGRATIONS: &[&str] = &[
    // 1: series, points (one row per series, tier and bucket: the average of each field, and
    //    the maximum in tiers above 0), alert rules, alert state and alert events.
    "CREATE TABLE metrics_series (
        id    INTEGER PRIMARY KEY,
        name  TEXT NOT NULL UNIQUE
    );
    CREATE TABLE metrics_points (
        series INTEGER NOT NULL,
        tier   INTEGER NOT NULL,
        time   INTEGER NOT NULL,
        n      INTEGER NOT NULL,
        a0 REAL, a1 REAL, a2 REAL, a3 REAL, a4 REAL, a5 REAL, a6 REAL, a7 REAL, a8 REAL,
        m0 REAL, m1 REAL, m2 REAL, m3 REAL, m4 REAL, m5 REAL, m6 REAL, m7 REAL, m8 REAL,
        PRIMARY KEY (series, tier, time)
    ) WITHOUT ROWID;
    CREATE TABLE alert_rules (
        id          TEXT PRIMARY KEY,
        owner       TEXT NOT NULL,
        body        TEXT NOT NULL,
        created_at  INTEGER NOT NULL
    );
    CREATE TABLE alert_state (
        rule_id        TEXT NOT NULL,
        instance       TEXT NOT NULL,
        firing         INTEGER NOT NULL,
        last_notified  INTEGER,
        firing_notified INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (rule_id, instance)
    );
    CREATE TABLE alert_events (
        id        INTEGER PRIMARY KEY AUTOINCREMENT,
        owner     TEXT NOT NULL,
        body      TEXT NOT NULL,
        time      INTEGER NOT NULL
    );
    CREATE INDEX alert_events_owner ON alert_events(owner, id);
    CREATE TABLE metrics_kv (
        key   TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );",
];

/// Opens (creating if needed) the database at `path` in WAL mode and migrates.
pub fn open(path: &Path) -> Result<Connection, DbError> {
    let conn = Connection::open(path)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    prepare(conn)
}

/// Migrates a connection the caller opened (in memory, for tests).
pub fn prepare(mut conn: Connection) -> Result<Connection, DbError> {
    conn.busy_timeout(Duration::from_secs(10))?;
    migrate(&mut conn)?;
    Ok(conn)
}

pub fn version(conn: &Connection) -> rusqlite::Result<i64> {
    berth_store::counted::counted_version(conn, "metrics_schema")
}

fn migrate(conn: &mut Connection) -> Result<(), DbError> {
    berth_store::counted::apply_counted(conn, "metrics_schema", MIGRATIONS)?
        .map_err(|(found, known)| DbError::TooNew { found, known })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_counter_leaves_others_alone() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("berth.db");
        Connection::open(&path)?.pragma_update(None, "user_version", 7)?;
        assert_eq!(version(&open(&path)?)?, 1);
        let conn = open(&path)?;
        assert_eq!(version(&conn)?, 1);
        let user_version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        assert_eq!(user_version, 7);
        conn.execute("UPDATE metrics_schema SET version = 99", [])?;
        assert!(matches!(
            open(&path),
            Err(DbError::TooNew { found: 99, .. })
        ));
        Ok(())
    }
}
