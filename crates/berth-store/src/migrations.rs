//! Versioned schema migrations, applied in order and recorded in `PRAGMA user_version`.

use rusqlite::Connection;

use crate::StoreError;

/// Migration N (1-based) brings the schema from version N-1 to N. Never edit a released one;
/// append a new one.
const MIGRATIONS: &[&str] = &[
    // 1: instances and operations.
    "CREATE TABLE instances (
        id          TEXT PRIMARY KEY,
        name        TEXT NOT NULL UNIQUE,
        owner       TEXT NOT NULL,
        backend     TEXT NOT NULL,
        image       TEXT NOT NULL,
        state       TEXT NOT NULL,
        autostart   INTEGER NOT NULL DEFAULT 0,
        limits      TEXT NOT NULL,
        node        TEXT NOT NULL,
        rootfs      TEXT,
        created_at  TEXT NOT NULL
    );
    CREATE TABLE operations (
        id          TEXT PRIMARY KEY,
        kind        TEXT NOT NULL,
        target      TEXT NOT NULL,
        status      TEXT NOT NULL,
        progress    INTEGER NOT NULL,
        message     TEXT NOT NULL,
        steps       TEXT NOT NULL,
        error       TEXT,
        owner       TEXT NOT NULL,
        params      TEXT NOT NULL,
        created_at  TEXT NOT NULL,
        updated_at  TEXT NOT NULL
    );
    CREATE INDEX operations_status ON operations(status);",
    // 2: network addresses, one row per instance; UNIQUE so an address is never handed out twice.
    "CREATE TABLE addresses (
        instance    TEXT PRIMARY KEY REFERENCES instances(name) ON DELETE CASCADE,
        ipv4        TEXT NOT NULL UNIQUE,
        ipv6        TEXT UNIQUE,
        mac         TEXT NOT NULL UNIQUE
    );",
    // 3: port forwards, removed with their instance. Clashes (overlapping ranges, wildcard
    // addresses, host listeners) are refused by berthd under one lock before inserting.
    "CREATE TABLE forwards (
        id          TEXT PRIMARY KEY,
        instance    TEXT NOT NULL REFERENCES instances(name) ON DELETE CASCADE,
        listen      TEXT,
        host_start  INTEGER NOT NULL,
        host_end    INTEGER NOT NULL,
        guest_port  INTEGER NOT NULL,
        protocol    TEXT NOT NULL,
        created_at  TEXT NOT NULL
    );
    CREATE INDEX forwards_instance ON forwards(instance);",
    // 4: snapshots and each instance's snapshot schedule, removed with the instance.
    "CREATE TABLE snapshots (
        instance    TEXT NOT NULL REFERENCES instances(name) ON DELETE CASCADE,
        name        TEXT NOT NULL,
        created_at  TEXT NOT NULL,
        size        INTEGER,
        scheduled   INTEGER NOT NULL DEFAULT 0,
        expires_at  TEXT,
        PRIMARY KEY (instance, name)
    );
    CREATE TABLE snapshot_schedules (
        instance    TEXT PRIMARY KEY REFERENCES instances(name) ON DELETE CASCADE,
        schedule    TEXT NOT NULL,
        expiry      TEXT,
        max_count   INTEGER,
        last_run    TEXT
    );",
    // 5: host-wide settings as JSON values (the IPv6 uplink, …).
    "CREATE TABLE settings (
        key         TEXT PRIMARY KEY,
        value       TEXT NOT NULL
    );",
    // 6: backups (archives under <data_dir>/backups), removed with their instance.
    "CREATE TABLE backups (
        id          TEXT PRIMARY KEY,
        instance    TEXT NOT NULL REFERENCES instances(name) ON DELETE CASCADE,
        created_at  TEXT NOT NULL,
        size        INTEGER NOT NULL,
        path        TEXT NOT NULL
    );
    CREATE INDEX backups_instance ON backups(instance);",
    // 7: each instance's backup schedule.
    "CREATE TABLE backup_schedules (
        instance    TEXT PRIMARY KEY REFERENCES instances(name) ON DELETE CASCADE,
        schedule    TEXT NOT NULL,
        last_run    TEXT
    );",
];

pub(crate) fn apply(conn: &mut Connection) -> Result<(), StoreError> {
    let known = MIGRATIONS.len() as i64;
    let current: i64 = conn.query_row("PRAGMA user_version", [], |row| row.get(0))?;
    if current > known {
        return Err(StoreError::TooNew {
            found: current,
            known,
        });
    }
    for (index, sql) in MIGRATIONS.iter().enumerate().skip(current as usize) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", index as i64 + 1)?;
        tx.commit()?;
    }
    Ok(())
}
