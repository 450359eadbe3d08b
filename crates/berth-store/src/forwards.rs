//! The `forwards` table: port forwards from the host to an instance, removed with it.

use berth_types::InstanceName;
use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, Row, params};
use uuid::Uuid;

use crate::{Store, StoreError};

/// One forward as stored: host `[listen:]host_start-host_end` → guest `guest_port`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForwardRecord {
    pub id: Uuid,
    pub instance: InstanceName,
    /// The host address; `None` is every address.
    pub listen: Option<String>,
    pub host_start: u16,
    pub host_end: u16,
    pub guest_port: u16,
    /// `tcp` or `udp`.
    pub protocol: String,
    pub created_at: DateTime<Utc>,
}

const COLUMNS: &str =
    "id, instance, listen, host_start, host_end, guest_port, protocol, created_at";

fn from_row(row: &Row<'_>) -> rusqlite::Result<Result<ForwardRecord, StoreError>> {
    let id: String = row.get(0)?;
    let instance: String = row.get(1)?;
    let port = |index: usize| -> rusqlite::Result<Result<u16, StoreError>> {
        let raw: i64 = row.get(index)?;
        Ok(u16::try_from(raw).map_err(|_| StoreError::Corrupt {
            column: "forwards port",
            value: raw.to_string(),
        }))
    };
    let (host_start, host_end, guest_port) = (port(3)?, port(4)?, port(5)?);
    let listen: Option<String> = row.get(2)?;
    let protocol: String = row.get(6)?;
    let created_at: DateTime<Utc> = row.get(7)?;
    Ok((|| {
        Ok(ForwardRecord {
            id: Uuid::parse_str(&id).map_err(|_| StoreError::Corrupt {
                column: "forwards.id",
                value: id.clone(),
            })?,
            instance: InstanceName::parse(&instance).map_err(|_| StoreError::Corrupt {
                column: "forwards.instance",
                value: instance.clone(),
            })?,
            listen,
            host_start: host_start?,
            host_end: host_end?,
            guest_port: guest_port?,
            protocol,
            created_at,
        })
    })())
}

impl Store {
    pub fn insert_forward(&self, forward: &ForwardRecord) -> Result<(), StoreError> {
        self.conn().execute(
            &format!("INSERT INTO forwards ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"),
            params![
                forward.id.to_string(),
                forward.instance.as_str(),
                forward.listen,
                forward.host_start,
                forward.host_end,
                forward.guest_port,
                forward.protocol,
                forward.created_at,
            ],
        )?;
        Ok(())
    }

    /// Every forward, oldest first; of one instance when `instance` is given.
    pub fn list_forwards(
        &self,
        instance: Option<&InstanceName>,
    ) -> Result<Vec<ForwardRecord>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare(&format!(
            "SELECT {COLUMNS} FROM forwards WHERE ?1 IS NULL OR instance = ?1 \
             ORDER BY created_at, id"
        ))?;
        let rows = stmt.query_map([instance.map(InstanceName::as_str)], from_row)?;
        rows.map(|row| row?).collect()
    }

    pub fn get_forward(&self, id: Uuid) -> Result<Option<ForwardRecord>, StoreError> {
        self.conn()
            .query_row(
                &format!("SELECT {COLUMNS} FROM forwards WHERE id = ?1"),
                [id.to_string()],
                from_row,
            )
            .optional()?
            .transpose()
    }

    /// Deletes a forward; whether it was there.
    pub fn delete_forward(&self, id: Uuid) -> Result<bool, StoreError> {
        let gone = self
            .conn()
            .execute("DELETE FROM forwards WHERE id = ?1", [id.to_string()])?;
        Ok(gone > 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::instances::tests::record;

    fn forward(instance: &InstanceName, port: u16) -> ForwardRecord {
        ForwardRecord {
            id: Uuid::new_v4(),
            instance: instance.clone(),
            listen: Some("127.0.0.1".into()),
            host_start: port,
            host_end: port,
            guest_port: 22,
            protocol: "tcp".into(),
            created_at: Utc::now(),
        }
    }

    #[test]
    fn forwards_are_listed_per_instance_and_go_with_it() -> Result<(), StoreError> {
        let store = Store::open_in_memory()?;
        let (a, b) = (record("a"), record("b"));
        store.insert_instance(&a)?;
        store.insert_instance(&b)?;
        let fa = forward(&a.name, 2222);
        let fb = forward(&b.name, 2223);
        store.insert_forward(&fa)?;
        store.insert_forward(&fb)?;
        assert_eq!(store.list_forwards(Some(&a.name))?, vec![fa.clone()]);
        assert_eq!(store.list_forwards(None)?.len(), 2);
        assert_eq!(store.get_forward(fb.id)?, Some(fb.clone()));
        store.delete_instance(&a.name)?;
        assert_eq!(store.list_forwards(None)?, vec![fb.clone()], "cascade");
        assert!(store.delete_forward(fb.id)?);
        assert!(!store.delete_forward(fb.id)?);
        Ok(())
    }

    #[test]
    fn a_forward_to_a_missing_instance_is_refused() -> Result<(), StoreError> {
        let store = Store::open_in_memory()?;
        let name = InstanceName::parse("ghost").map_err(|_| StoreError::Conflict("x".into()))?;
        assert!(store.insert_forward(&forward(&name, 80)).is_err());
        Ok(())
    }
}
