//! The `pending_cleanups` table: guests a remote backend may still hold for a create that
//! failed while the backend did not answer (PVE finishing a container after its API died
//! mid-create). Each row names the backend, the instance name and Berth's id of the instance
//! that failed, which the backend's guest carries in its description — so berthd's follower
//! removes exactly that guest once the backend answers, and never another one of that name.
//!
//! Counted on its own (`cleanups_schema`, see [`crate::counted`]), so it never collides with
//! migrations other branches append to the store's own list.

use berth_types::{BackendName, InstanceName};
use chrono::{DateTime, Utc};
use rusqlite::{Connection, params};
use uuid::Uuid;

use crate::{Store, StoreError};

const MIGRATIONS: &[&str] = &[
    // 1: one row per failed create whose guest may still exist.
    "CREATE TABLE pending_cleanups (
        instance_id TEXT PRIMARY KEY,
        backend     TEXT NOT NULL,
        name        TEXT NOT NULL,
        since       TEXT NOT NULL
    );",
];

pub(crate) fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    match crate::counted::apply_counted(conn, "cleanups_schema", MIGRATIONS)? {
        Ok(()) => Ok(()),
        Err((found, known)) => Err(StoreError::TooNew { found, known }),
    }
}

/// A guest to remove once its backend answers, if it is still the one made for `instance_id`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingCleanup {
    pub instance_id: Uuid,
    pub backend: BackendName,
    pub name: InstanceName,
    pub since: DateTime<Utc>,
}

fn corrupt(column: &'static str, value: String) -> StoreError {
    StoreError::Corrupt { column, value }
}

impl Store {
    /// Records a cleanup; recording the same instance twice keeps one row.
    pub fn add_pending_cleanup(&self, cleanup: &PendingCleanup) -> Result<(), StoreError> {
        self.conn().execute(
            "INSERT OR IGNORE INTO pending_cleanups (instance_id, backend, name, since) \
             VALUES (?1, ?2, ?3, ?4)",
            params![
                cleanup.instance_id.to_string(),
                cleanup.backend.as_str(),
                cleanup.name.as_str(),
                cleanup.since.to_rfc3339(),
            ],
        )?;
        Ok(())
    }

    /// The cleanups waiting on `backend`, oldest first.
    pub fn pending_cleanups(
        &self,
        backend: &BackendName,
    ) -> Result<Vec<PendingCleanup>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT instance_id, name, since FROM pending_cleanups WHERE backend = ?1 \
             ORDER BY since",
        )?;
        let rows = stmt.query_map([backend.as_str()], |row| {
            Ok((
                row.get::<_, String>(0)?,
                row.get::<_, String>(1)?,
                row.get::<_, String>(2)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (id, name, since) = row?;
            out.push(PendingCleanup {
                instance_id: Uuid::parse_str(&id)
                    .map_err(|_| corrupt("pending_cleanups.instance_id", id.clone()))?,
                backend: backend.clone(),
                name: InstanceName::parse(&name)
                    .map_err(|_| corrupt("pending_cleanups.name", name.clone()))?,
                since: DateTime::parse_from_rfc3339(&since)
                    .map_err(|_| corrupt("pending_cleanups.since", since.clone()))?
                    .with_timezone(&Utc),
            });
        }
        Ok(out)
    }

    /// Forgets a cleanup (done, or its guest turned out not to need one).
    pub fn remove_pending_cleanup(&self, instance_id: Uuid) -> Result<(), StoreError> {
        self.conn().execute(
            "DELETE FROM pending_cleanups WHERE instance_id = ?1",
            [instance_id.to_string()],
        )?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cleanups_round_trip_per_backend() -> Result<(), Box<dyn std::error::Error>> {
        let store = Store::open_in_memory()?;
        let proxmox = BackendName::parse("proxmox")?;
        let cleanup = PendingCleanup {
            instance_id: Uuid::new_v4(),
            backend: proxmox.clone(),
            name: InstanceName::parse("app1")?,
            since: DateTime::parse_from_rfc3339("2026-01-02T03:04:05Z")?.with_timezone(&Utc),
        };
        store.add_pending_cleanup(&cleanup)?;
        store.add_pending_cleanup(&cleanup)?;
        assert_eq!(store.pending_cleanups(&proxmox)?, vec![cleanup.clone()]);
        assert!(
            store
                .pending_cleanups(&BackendName::parse("sim")?)?
                .is_empty()
        );
        store.remove_pending_cleanup(cleanup.instance_id)?;
        assert!(store.pending_cleanups(&proxmox)?.is_empty());
        Ok(())
    }
}
