//! The `instances` table: one row per instance, created first and deleted last.

use std::path::PathBuf;

use berth_types::{
    BackendName, Instance, InstanceImage, InstanceName, InstanceNetwork, InstanceState, Limits,
};
use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, Row, params};
use uuid::Uuid;

use crate::{Store, StoreError, is_unique_violation};

/// An instance as Berth remembers it.
#[derive(Debug, Clone, PartialEq)]
pub struct InstanceRecord {
    pub id: Uuid,
    pub name: InstanceName,
    pub owner: String,
    pub backend: BackendName,
    /// The runtime tool the guest runs under on a backend that offers a choice (oci: `crun`
    /// or `runc`), chosen at create so every later start uses the same one; `None` on other
    /// backends and on oci instances made before the choice (they follow `[oci] runtime`).
    pub runtime: Option<String>,
    /// Stored as its canonical alias (`debian/12`) or `REMOTE:ALIAS` for an image server's.
    pub image: InstanceImage,
    pub state: InstanceState,
    pub autostart: bool,
    pub limits: Limits,
    pub node: String,
    /// Where its root filesystem lives, once cloned.
    pub rootfs: Option<PathBuf>,
    pub created_at: DateTime<Utc>,
    /// The guest's root is the host's root (no user namespace): only an admin sets it;
    /// instances made before id ranges are privileged.
    pub privileged: bool,
    /// Containers may be nested inside the guest.
    pub nesting: bool,
}

impl InstanceRecord {
    /// The API view of this record.
    pub fn to_api(&self, network: InstanceNetwork, pid: Option<i32>) -> Instance {
        Instance {
            name: self.name.to_string(),
            id: self.id,
            owner: self.owner.clone(),
            backend: self.backend.to_string(),
            runtime: self.runtime.clone(),
            image: self.image.to_string(),
            state: self.state,
            autostart: self.autostart,
            created_at: self.created_at,
            limits: self.limits,
            network,
            node: self.node.clone(),
            vmid: None,
            snapshots: None,
            backups: None,
            pid,
            state_reason: None,
            started_at: None,
            cache: None,
            privileged: self.privileged,
            nesting: self.nesting,
            idmap: None,
        }
    }
}

const COLUMNS: &str = "id, name, owner, backend, image, state, autostart, limits, node, rootfs, \
                       created_at, privileged, nesting, runtime";

fn from_row(row: &Row<'_>) -> rusqlite::Result<Result<InstanceRecord, StoreError>> {
    let id: String = row.get(0)?;
    let name: String = row.get(1)?;
    let state: String = row.get(5)?;
    let limits: String = row.get(7)?;
    let rootfs: Option<String> = row.get(9)?;
    let created_at: DateTime<Utc> = row.get(10)?;
    let owner: String = row.get(2)?;
    let backend: String = row.get(3)?;
    let image: String = row.get(4)?;
    let autostart: bool = row.get(6)?;
    let node: String = row.get(8)?;
    let privileged: bool = row.get(11)?;
    let nesting: bool = row.get(12)?;
    let runtime: Option<String> = row.get(13)?;
    Ok((|| {
        Ok(InstanceRecord {
            id: Uuid::parse_str(&id).map_err(|_| StoreError::Corrupt {
                column: "instances.id",
                value: id.clone(),
            })?,
            name: InstanceName::parse(&name).map_err(|_| StoreError::Corrupt {
                column: "instances.name",
                value: name.clone(),
            })?,
            owner,
            backend: BackendName::parse(&backend).map_err(|_| StoreError::Corrupt {
                column: "instances.backend",
                value: backend.clone(),
            })?,
            image: InstanceImage::parse_field(&image, "image").map_err(|_| {
                StoreError::Corrupt {
                    column: "instances.image",
                    value: image.clone(),
                }
            })?,
            state: InstanceState::parse(&state).ok_or_else(|| StoreError::Corrupt {
                column: "instances.state",
                value: state.clone(),
            })?,
            autostart,
            limits: serde_json::from_str(&limits).map_err(|source| StoreError::Json {
                column: "instances.limits",
                source,
            })?,
            node,
            rootfs: rootfs.map(PathBuf::from),
            created_at,
            privileged,
            nesting,
            runtime,
        })
    })())
}

/// The instance columns of unprivileged guests, counted on their own (`instance_security_schema`,
/// see [`crate::counted`]) so they never collide with migrations other branches append to the
/// store's list. Rows made before them are privileged: that is how those guests ran.
const SECURITY_MIGRATIONS: &[&str] = &[
    // 1: the flags; existing instances keep running as they did.
    "ALTER TABLE instances ADD COLUMN privileged INTEGER NOT NULL DEFAULT 1;
     ALTER TABLE instances ADD COLUMN nesting INTEGER NOT NULL DEFAULT 0;",
];

pub(crate) fn migrate_security(conn: &mut rusqlite::Connection) -> Result<(), StoreError> {
    match crate::counted::apply_counted(conn, "instance_security_schema", SECURITY_MIGRATIONS)? {
        Ok(()) => Ok(()),
        Err((found, known)) => Err(StoreError::TooNew { found, known }),
    }
}

/// Each instance's own runtime tool, counted on its own (`instance_runtime_schema`). Rows made
/// before it have none: they run under `[oci] runtime`, as they did.
const RUNTIME_MIGRATIONS: &[&str] = &[
    // 1: the tool, NULL for every backend without a choice.
    "ALTER TABLE instances ADD COLUMN runtime TEXT;",
];

pub(crate) fn migrate_runtime(conn: &mut rusqlite::Connection) -> Result<(), StoreError> {
    match crate::counted::apply_counted(conn, "instance_runtime_schema", RUNTIME_MIGRATIONS)? {
        Ok(()) => Ok(()),
        Err((found, known)) => Err(StoreError::TooNew { found, known }),
    }
}

fn limits_json(limits: &Limits) -> Result<String, StoreError> {
    serde_json::to_string(limits).map_err(|source| StoreError::Json {
        column: "instances.limits",
        source,
    })
}

impl Store {
    /// Inserts a new instance; a taken name is `Conflict`.
    pub fn insert_instance(&self, record: &InstanceRecord) -> Result<(), StoreError> {
        let limits = limits_json(&record.limits)?;
        let result = self.conn().execute(
            &format!("INSERT INTO instances ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)"),
            params![
                record.id.to_string(),
                record.name.as_str(),
                record.owner,
                record.backend.as_str(),
                record.image.to_string(),
                record.state.as_str(),
                record.autostart,
                limits,
                record.node,
                record.rootfs.as_ref().map(|p| p.to_string_lossy().into_owned()),
                record.created_at,
                record.privileged,
                record.nesting,
                record.runtime,
            ],
        );
        match result {
            Ok(_) => Ok(()),
            Err(e) if is_unique_violation(&e) => {
                Err(StoreError::Conflict(format!("instance {}", record.name)))
            }
            Err(e) => Err(e.into()),
        }
    }

    pub fn get_instance(&self, name: &InstanceName) -> Result<Option<InstanceRecord>, StoreError> {
        let conn = self.conn();
        let row = conn
            .query_row(
                &format!("SELECT {COLUMNS} FROM instances WHERE name = ?1"),
                [name.as_str()],
                from_row,
            )
            .optional()?;
        row.transpose()
    }

    pub fn list_instances(&self) -> Result<Vec<InstanceRecord>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare(&format!("SELECT {COLUMNS} FROM instances ORDER BY name"))?;
        let rows = stmt.query_map([], from_row)?;
        let mut out = Vec::new();
        for row in rows {
            out.push(row??);
        }
        Ok(out)
    }

    /// Writes every mutable column of `record` (state, autostart, limits, rootfs, node,
    /// privileged, nesting).
    pub fn update_instance(&self, record: &InstanceRecord) -> Result<(), StoreError> {
        let limits = limits_json(&record.limits)?;
        self.conn().execute(
            "UPDATE instances SET state = ?2, autostart = ?3, limits = ?4, rootfs = ?5, node = ?6, \
             privileged = ?7, nesting = ?8 WHERE name = ?1",
            params![
                record.name.as_str(),
                record.state.as_str(),
                record.autostart,
                limits,
                record
                    .rootfs
                    .as_ref()
                    .map(|p| p.to_string_lossy().into_owned()),
                record.node,
                record.privileged,
                record.nesting,
            ],
        )?;
        Ok(())
    }

    /// Where a remote instance runs now (it was moved outside Berth).
    pub fn set_instance_node(&self, name: &InstanceName, node: &str) -> Result<(), StoreError> {
        self.conn().execute(
            "UPDATE instances SET node = ?2 WHERE name = ?1",
            params![name.as_str(), node],
        )?;
        Ok(())
    }

    pub fn set_instance_state(
        &self,
        name: &InstanceName,
        state: InstanceState,
    ) -> Result<(), StoreError> {
        self.conn().execute(
            "UPDATE instances SET state = ?2 WHERE name = ?1",
            params![name.as_str(), state.as_str()],
        )?;
        Ok(())
    }

    /// Deletes the row; deleting a missing row succeeds.
    pub fn delete_instance(&self, name: &InstanceName) -> Result<(), StoreError> {
        self.conn()
            .execute("DELETE FROM instances WHERE name = ?1", [name.as_str()])?;
        Ok(())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use berth_types::ImageRef;

    pub(crate) fn record(name: &str) -> InstanceRecord {
        InstanceRecord {
            id: Uuid::new_v4(),
            name: InstanceName::parse(name).expect("valid test name"),
            owner: "admin".into(),
            backend: BackendName::parse("sim").expect("valid backend"),
            runtime: None,
            image: ImageRef::parse("debian/12").expect("valid image").into(),
            state: InstanceState::Creating,
            autostart: false,
            limits: Limits {
                cpu: Some(1.5),
                memory: Some(512 << 20),
                ..Limits::default()
            },
            node: "local".into(),
            rootfs: None,
            created_at: Utc::now(),
            privileged: false,
            nesting: false,
        }
    }

    #[test]
    fn round_trips_and_refuses_duplicate_names() -> Result<(), StoreError> {
        let store = Store::open_in_memory()?;
        let mut web1 = record("web1");
        store.insert_instance(&web1)?;
        assert!(matches!(
            store.insert_instance(&record("web1")),
            Err(StoreError::Conflict(_))
        ));
        web1.state = InstanceState::Running;
        web1.rootfs = Some("/var/lib/berth/x".into());
        store.update_instance(&web1)?;
        assert_eq!(store.get_instance(&web1.name)?.as_ref(), Some(&web1));
        assert_eq!(store.list_instances()?.len(), 1);
        store.delete_instance(&web1.name)?;
        assert_eq!(store.get_instance(&web1.name)?, None);
        store.delete_instance(&web1.name)?;
        Ok(())
    }

    #[test]
    fn instances_made_before_the_flags_are_privileged() -> Result<(), StoreError> {
        let store = Store::open_in_memory()?;
        let old = record("old");
        store.insert_instance(&old)?;
        // As a database from before the flags: the columns' defaults are what old rows get.
        store.conn().execute_batch(
            "CREATE TABLE pre (name TEXT); INSERT INTO pre VALUES ('old');
             ALTER TABLE instances DROP COLUMN privileged;
             ALTER TABLE instances DROP COLUMN nesting;
             DELETE FROM instance_security_schema;",
        )?;
        migrate_security(&mut store.conn())?;
        let back = store.get_instance(&old.name)?.expect("kept");
        assert!(back.privileged && !back.nesting);
        let mut new = record("new");
        new.nesting = true;
        store.insert_instance(&new)?;
        let back = store.get_instance(&new.name)?.expect("inserted");
        assert!(!back.privileged && back.nesting);
        Ok(())
    }

    #[test]
    fn instances_keep_their_runtime_and_older_ones_have_none() -> Result<(), StoreError> {
        let store = Store::open_in_memory()?;
        store.insert_instance(&record("old"))?;
        // As a database from before the column.
        store.conn().execute_batch(
            "ALTER TABLE instances DROP COLUMN runtime; DELETE FROM instance_runtime_schema;",
        )?;
        migrate_runtime(&mut store.conn())?;
        migrate_runtime(&mut store.conn())?;
        let old = InstanceName::parse("old").expect("valid");
        assert_eq!(store.get_instance(&old)?.expect("kept").runtime, None);
        let mut new = record("new");
        new.runtime = Some("runc".into());
        store.insert_instance(&new)?;
        new.state = InstanceState::Running;
        store.update_instance(&new)?;
        let back = store.get_instance(&new.name)?.expect("inserted");
        assert_eq!(back.runtime.as_deref(), Some("runc"));
        assert_eq!(
            back.to_api(InstanceNetwork::default(), None).runtime,
            back.runtime
        );
        Ok(())
    }

    #[test]
    fn file_database_survives_reopen() -> Result<(), StoreError> {
        let dir = tempfile::tempdir().map_err(|_| StoreError::Corrupt {
            column: "tmp",
            value: String::new(),
        })?;
        let path = dir.path().join("berth.db");
        Store::open(&path)?.insert_instance(&record("keep"))?;
        let store = Store::open(&path)?;
        assert_eq!(store.list_instances()?.len(), 1);
        assert_eq!(store.schema_version()?, 7);
        Ok(())
    }
}
