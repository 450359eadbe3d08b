//! Berth's SQLite store: one database file in WAL mode, versioned migrations, and one
//! repository module per table.

mod addresses;
mod backups;
mod cleanups;
pub mod counted;
mod forwards;
mod idmaps;
mod instances;
mod migrations;
mod operations;
mod settings;
mod snapshots;

pub use addresses::AddressRecord;
pub use backups::{BackupRecord, BackupScheduleRecord};
pub use cleanups::PendingCleanup;
pub use forwards::ForwardRecord;
pub use instances::InstanceRecord;
pub use operations::OperationRecord;
pub use snapshots::ScheduleRecord;

use std::path::Path;
use std::sync::{Mutex, MutexGuard};

use rusqlite::Connection;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{0} already exists")]
    Conflict(String),
    #[error("database")]
    Sqlite(#[from] rusqlite::Error),
    #[error("making the database readable by root only")]
    Permissions(#[source] std::io::Error),
    #[error("stored JSON in {column}")]
    Json {
        column: &'static str,
        #[source]
        source: serde_json::Error,
    },
    #[error("stored value {value:?} in {column} is not valid")]
    Corrupt { column: &'static str, value: String },
    #[error(
        "database schema version {found} is newer than this berthd understands ({known}); upgrade berthd"
    )]
    TooNew { found: i64, known: i64 },
}

/// The database. Queries are short; callers hold the lock only for one statement or transaction.
pub struct Store {
    conn: Mutex<Connection>,
}

impl Store {
    /// Opens (creating if needed) the database at `path` and brings its schema up to date.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let conn = Connection::open(path)?;
        // It may hold secrets (settings): owner only, and the same for WAL and shm files,
        // which SQLite creates with the database's mode.
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
            .map_err(StoreError::Permissions)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        Self::from_connection(conn)
    }

    /// An in-memory database, for tests.
    pub fn open_in_memory() -> Result<Self, StoreError> {
        Self::from_connection(Connection::open_in_memory()?)
    }

    fn from_connection(mut conn: Connection) -> Result<Self, StoreError> {
        conn.pragma_update(None, "foreign_keys", "ON")?;
        migrations::apply(&mut conn)?;
        instances::migrate_security(&mut conn)?;
        instances::migrate_runtime(&mut conn)?;
        idmaps::migrate(&mut conn)?;
        cleanups::migrate(&mut conn)?;
        Ok(Self {
            conn: Mutex::new(conn),
        })
    }

    fn conn(&self) -> MutexGuard<'_, Connection> {
        self.conn
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Rows changed through this store since it was opened (SQLite's `total_changes`): a
    /// generation that moves on every write, for `ETag`s. Never goes back while berthd runs.
    pub fn generation(&self) -> u64 {
        self.conn().total_changes()
    }

    /// The schema version the database is at.
    pub fn schema_version(&self) -> Result<i64, StoreError> {
        Ok(self
            .conn()
            .query_row("PRAGMA user_version", [], |row| row.get(0))?)
    }
}

fn is_unique_violation(err: &rusqlite::Error) -> bool {
    matches!(err, rusqlite::Error::SqliteFailure(e, _) if e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
        || e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY)
}
