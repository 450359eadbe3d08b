//! The `snapshots` and `snapshot_schedules` tables: what each instance's snapshots are, and
//! when its schedule last ran. Both go with the instance.

use berth_types::InstanceName;
use berth_types::snapshot::{Snapshot, SnapshotSchedule};
use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, params};

use crate::{Store, StoreError, is_unique_violation};

/// An instance's schedule as stored, with when it last ran.
#[derive(Debug, Clone, PartialEq)]
pub struct ScheduleRecord {
    pub instance: InstanceName,
    pub schedule: SnapshotSchedule,
    pub last_run: Option<DateTime<Utc>>,
}

impl Store {
    /// Records a snapshot; the same name twice on one instance is `Conflict`.
    pub fn insert_snapshot(
        &self,
        instance: &InstanceName,
        snapshot: &Snapshot,
    ) -> Result<(), StoreError> {
        let size = snapshot.size.map(|s| i64::try_from(s).unwrap_or(i64::MAX));
        let result = self.conn().execute(
            "INSERT INTO snapshots (instance, name, created_at, size, scheduled, expires_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                instance.as_str(),
                snapshot.name,
                snapshot.created_at,
                size,
                snapshot.scheduled,
                snapshot.expires_at
            ],
        );
        match result {
            Ok(_) => Ok(()),
            Err(e) if is_unique_violation(&e) => Err(StoreError::Conflict(format!(
                "snapshot {} of {instance}",
                snapshot.name
            ))),
            Err(e) => Err(e.into()),
        }
    }

    /// An instance's snapshots, oldest first.
    pub fn list_snapshots(&self, instance: &InstanceName) -> Result<Vec<Snapshot>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT name, created_at, size, scheduled, expires_at FROM snapshots \
             WHERE instance = ?1 ORDER BY created_at, name",
        )?;
        let rows = stmt.query_map([instance.as_str()], |row| {
            let size: Option<i64> = row.get(2)?;
            Ok(Snapshot {
                name: row.get(0)?,
                created_at: row.get(1)?,
                size: size.and_then(|s| u64::try_from(s).ok()),
                scheduled: row.get(3)?,
                expires_at: row.get(4)?,
            })
        })?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    /// Forgets a snapshot; whether it was there.
    pub fn delete_snapshot(&self, instance: &InstanceName, name: &str) -> Result<bool, StoreError> {
        let gone = self.conn().execute(
            "DELETE FROM snapshots WHERE instance = ?1 AND name = ?2",
            params![instance.as_str(), name],
        )?;
        Ok(gone > 0)
    }

    /// Sets (or with `None`, removes) an instance's schedule; a new schedule starts counting now.
    pub fn set_snapshot_schedule(
        &self,
        instance: &InstanceName,
        schedule: Option<&SnapshotSchedule>,
    ) -> Result<(), StoreError> {
        let conn = self.conn();
        match schedule {
            None => {
                conn.execute(
                    "DELETE FROM snapshot_schedules WHERE instance = ?1",
                    [instance.as_str()],
                )?;
            }
            Some(s) => {
                conn.execute(
                    "INSERT INTO snapshot_schedules (instance, schedule, expiry, max_count, last_run) \
                     VALUES (?1, ?2, ?3, ?4, ?5) \
                     ON CONFLICT(instance) DO UPDATE SET schedule = ?2, expiry = ?3, max_count = ?4",
                    params![instance.as_str(), s.schedule, s.expiry, s.max, Utc::now()],
                )?;
            }
        }
        Ok(())
    }

    pub fn snapshot_schedule(
        &self,
        instance: &InstanceName,
    ) -> Result<Option<SnapshotSchedule>, StoreError> {
        Ok(self
            .conn()
            .query_row(
                "SELECT schedule, expiry, max_count FROM snapshot_schedules WHERE instance = ?1",
                [instance.as_str()],
                |row| {
                    Ok(SnapshotSchedule {
                        schedule: row.get(0)?,
                        expiry: row.get(1)?,
                        max: row.get(2)?,
                    })
                },
            )
            .optional()?)
    }

    /// Every schedule, for the scheduler.
    pub fn snapshot_schedules(&self) -> Result<Vec<ScheduleRecord>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT instance, schedule, expiry, max_count, last_run FROM snapshot_schedules",
        )?;
        let rows = stmt.query_map([], |row| {
            let instance: String = row.get(0)?;
            Ok((
                instance,
                SnapshotSchedule {
                    schedule: row.get(1)?,
                    expiry: row.get(2)?,
                    max: row.get(3)?,
                },
                row.get::<_, Option<DateTime<Utc>>>(4)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (instance, schedule, last_run) = row?;
            let instance = InstanceName::parse(&instance).map_err(|_| StoreError::Corrupt {
                column: "snapshot_schedules.instance",
                value: instance.clone(),
            })?;
            out.push(ScheduleRecord {
                instance,
                schedule,
                last_run,
            });
        }
        Ok(out)
    }

    pub fn mark_schedule_run(
        &self,
        instance: &InstanceName,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.conn().execute(
            "UPDATE snapshot_schedules SET last_run = ?2 WHERE instance = ?1",
            params![instance.as_str(), at],
        )?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::instances::tests::record;

    #[test]
    fn snapshots_and_schedules_go_with_the_instance() -> Result<(), StoreError> {
        let store = Store::open_in_memory()?;
        let a = record("a");
        store.insert_instance(&a)?;
        let snap = Snapshot {
            name: "snap0".into(),
            created_at: Utc::now(),
            size: Some(1 << 30),
            scheduled: false,
            expires_at: None,
        };
        store.insert_snapshot(&a.name, &snap)?;
        assert!(matches!(
            store.insert_snapshot(&a.name, &snap),
            Err(StoreError::Conflict(_))
        ));
        assert_eq!(store.list_snapshots(&a.name)?, vec![snap.clone()]);
        let schedule = SnapshotSchedule {
            schedule: "@daily".into(),
            expiry: Some("7d".into()),
            max: Some(5),
        };
        store.set_snapshot_schedule(&a.name, Some(&schedule))?;
        assert_eq!(store.snapshot_schedule(&a.name)?, Some(schedule));
        assert_eq!(store.snapshot_schedules()?.len(), 1);
        store.delete_instance(&a.name)?;
        assert_eq!(store.list_snapshots(&a.name)?, vec![]);
        assert_eq!(store.snapshot_schedules()?, vec![]);
        Ok(())
    }
}
