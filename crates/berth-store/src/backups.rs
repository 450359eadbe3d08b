//! The `backups` table: each backup archive of an instance, newest last.

use berth_types::InstanceName;
use chrono::{DateTime, Utc};
use rusqlite::params;
use uuid::Uuid;

use crate::{Store, StoreError};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupRecord {
    pub id: Uuid,
    pub instance: InstanceName,
    pub created_at: DateTime<Utc>,
    /// Bytes of the archive.
    pub size: u64,
    /// Where the archive is.
    pub path: String,
}

impl Store {
    pub fn insert_backup(&self, backup: &BackupRecord) -> Result<(), StoreError> {
        self.conn().execute(
            "INSERT INTO backups (id, instance, created_at, size, path) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![
                backup.id.to_string(),
                backup.instance.as_str(),
                backup.created_at,
                i64::try_from(backup.size).unwrap_or(i64::MAX),
                backup.path
            ],
        )?;
        Ok(())
    }

    /// An instance's backups, oldest first.
    pub fn list_backups(&self, instance: &InstanceName) -> Result<Vec<BackupRecord>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT id, instance, created_at, size, path FROM backups WHERE instance = ?1 \
             ORDER BY created_at, id",
        )?;
        let rows = stmt.query_map([instance.as_str()], |row| {
            let id: String = row.get(0)?;
            let size: i64 = row.get(3)?;
            Ok((
                id,
                row.get::<_, DateTime<Utc>>(2)?,
                size,
                row.get::<_, String>(4)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (id, created_at, size, path) = row?;
            out.push(BackupRecord {
                id: Uuid::parse_str(&id).map_err(|_| StoreError::Corrupt {
                    column: "backups.id",
                    value: id.clone(),
                })?,
                instance: instance.clone(),
                created_at,
                size: u64::try_from(size).unwrap_or(0),
                path,
            });
        }
        Ok(out)
    }

    pub fn delete_backup(&self, id: Uuid) -> Result<bool, StoreError> {
        Ok(self
            .conn()
            .execute("DELETE FROM backups WHERE id = ?1", [id.to_string()])?
            > 0)
    }
}

/// An instance's backup schedule and when it last ran.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupScheduleRecord {
    pub instance: InstanceName,
    pub schedule: String,
    pub last_run: Option<DateTime<Utc>>,
}

impl Store {
    /// Sets (`Some`) or removes (`None`) an instance's backup schedule; a new one counts from
    /// now.
    pub fn set_backup_schedule(
        &self,
        instance: &InstanceName,
        schedule: Option<&str>,
    ) -> Result<(), StoreError> {
        let conn = self.conn();
        match schedule {
            None => conn.execute(
                "DELETE FROM backup_schedules WHERE instance = ?1",
                [instance.as_str()],
            )?,
            Some(s) => conn.execute(
                "INSERT INTO backup_schedules (instance, schedule, last_run) VALUES (?1, ?2, ?3) \
                 ON CONFLICT(instance) DO UPDATE SET schedule = ?2",
                params![instance.as_str(), s, Utc::now()],
            )?,
        };
        Ok(())
    }

    pub fn backup_schedule(&self, instance: &InstanceName) -> Result<Option<String>, StoreError> {
        use rusqlite::OptionalExtension;
        Ok(self
            .conn()
            .query_row(
                "SELECT schedule FROM backup_schedules WHERE instance = ?1",
                [instance.as_str()],
                |row| row.get(0),
            )
            .optional()?)
    }

    /// Every backup schedule.
    pub fn backup_schedules(&self) -> Result<Vec<BackupScheduleRecord>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare("SELECT instance, schedule, last_run FROM backup_schedules")?;
        let rows = stmt.query_map([], |row| {
            Ok((
                row.get::<_, String>(0)?,
                row.get::<_, String>(1)?,
                row.get::<_, Option<DateTime<Utc>>>(2)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (instance, schedule, last_run) = row?;
            let instance = InstanceName::parse(&instance).map_err(|_| StoreError::Corrupt {
                column: "backup_schedules.instance",
                value: instance.clone(),
            })?;
            out.push(BackupScheduleRecord {
                instance,
                schedule,
                last_run,
            });
        }
        Ok(out)
    }

    pub fn mark_backup_run(
        &self,
        instance: &InstanceName,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.conn().execute(
            "UPDATE backup_schedules SET last_run = ?2 WHERE instance = ?1",
            params![instance.as_str(), at],
        )?;
        Ok(())
    }
}
