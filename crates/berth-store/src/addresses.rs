//! The `addresses` table: each instance's IPv4, IPv6 and MAC, unique across instances and
//! released with the instance (ON DELETE CASCADE).

use berth_types::InstanceName;
use rusqlite::{OptionalExtension, params};

use crate::{Store, StoreError, is_unique_violation};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddressRecord {
    pub ipv4: String,
    pub ipv6: Option<String>,
    pub mac: String,
}

impl Store {
    /// Records `name`'s addresses; an address already held by another instance is `Conflict`.
    pub fn assign_addresses(
        &self,
        name: &InstanceName,
        address: &AddressRecord,
    ) -> Result<(), StoreError> {
        let result = self.conn().execute(
            "INSERT INTO addresses (instance, ipv4, ipv6, mac) VALUES (?1, ?2, ?3, ?4)",
            params![name.as_str(), address.ipv4, address.ipv6, address.mac],
        );
        match result {
            Ok(_) => Ok(()),
            Err(e) if is_unique_violation(&e) => {
                Err(StoreError::Conflict(format!("an address of {name}")))
            }
            Err(e) => Err(e.into()),
        }
    }

    pub fn addresses_of(&self, name: &InstanceName) -> Result<Option<AddressRecord>, StoreError> {
        Ok(self
            .conn()
            .query_row(
                "SELECT ipv4, ipv6, mac FROM addresses WHERE instance = ?1",
                [name.as_str()],
                |row| {
                    Ok(AddressRecord {
                        ipv4: row.get(0)?,
                        ipv6: row.get(1)?,
                        mac: row.get(2)?,
                    })
                },
            )
            .optional()?)
    }

    /// Every address in use, for the allocator.
    pub fn all_addresses(&self) -> Result<Vec<AddressRecord>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare("SELECT ipv4, ipv6, mac FROM addresses")?;
        let rows = stmt.query_map([], |row| {
            Ok(AddressRecord {
                ipv4: row.get(0)?,
                ipv6: row.get(1)?,
                mac: row.get(2)?,
            })
        })?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    /// Releases `name`'s addresses; releasing none succeeds.
    pub fn release_addresses(&self, name: &InstanceName) -> Result<(), StoreError> {
        self.conn()
            .execute("DELETE FROM addresses WHERE instance = ?1", [name.as_str()])?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::instances::tests::record;

    #[test]
    fn addresses_are_unique_and_go_with_the_instance() -> Result<(), StoreError> {
        let store = Store::open_in_memory()?;
        let (a, b) = (record("a"), record("b"));
        store.insert_instance(&a)?;
        store.insert_instance(&b)?;
        let addr = AddressRecord {
            ipv4: "10.88.0.2".into(),
            ipv6: Some("fd42:88::2".into()),
            mac: "52:54:00:00:00:02".into(),
        };
        store.assign_addresses(&a.name, &addr)?;
        assert!(
            matches!(
                store.assign_addresses(&b.name, &addr),
                Err(StoreError::Conflict(_))
            ),
            "same address twice"
        );
        assert_eq!(store.addresses_of(&a.name)?, Some(addr));
        store.delete_instance(&a.name)?;
        assert_eq!(store.all_addresses()?, vec![], "released with the instance");
        store.release_addresses(&b.name)?;
        Ok(())
    }
}
