//! The `addresses` table: each instance's IPv4, IPv6 and MAC, unique across instances and
//! released with the instance (ON DELETE CASCADE).

use std::net::{Ipv4Addr, Ipv6Addr};

use berth_types::{InstanceName, MacAddr};
use rusqlite::{OptionalExtension, Row, params};

use crate::{Store, StoreError, is_unique_violation};

/// An instance's addresses. Stored as text (`10.88.0.12`, `fd42:88::c`, `52:54:00:12:34:56`),
/// parsed when read: a row that does not parse is `Corrupt`, naming its column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddressRecord {
    pub ipv4: Ipv4Addr,
    pub ipv6: Option<Ipv6Addr>,
    pub mac: MacAddr,
}

fn from_row(row: &Row<'_>) -> rusqlite::Result<Result<AddressRecord, StoreError>> {
    let ipv4: String = row.get(0)?;
    let ipv6: Option<String> = row.get(1)?;
    let mac: String = row.get(2)?;
    let corrupt = |column, value: &str| StoreError::Corrupt {
        column,
        value: value.to_owned(),
    };
    Ok((|| {
        Ok(AddressRecord {
            ipv4: ipv4.parse().map_err(|_| corrupt("addresses.ipv4", &ipv4))?,
            ipv6: match &ipv6 {
                Some(v6) => Some(v6.parse().map_err(|_| corrupt("addresses.ipv6", v6))?),
                None => None,
            },
            mac: mac.parse().map_err(|_| corrupt("addresses.mac", &mac))?,
        })
    })())
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
            params![
                name.as_str(),
                address.ipv4.to_string(),
                address.ipv6.map(|v6| v6.to_string()),
                address.mac.to_string()
            ],
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
        self.conn()
            .query_row(
                "SELECT ipv4, ipv6, mac FROM addresses WHERE instance = ?1",
                [name.as_str()],
                from_row,
            )
            .optional()?
            .transpose()
    }

    /// Every address in use, for the allocator.
    pub fn all_addresses(&self) -> Result<Vec<AddressRecord>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare("SELECT ipv4, ipv6, mac FROM addresses")?;
        let rows = stmt.query_map([], from_row)?;
        let mut out = Vec::new();
        for row in rows {
            out.push(row??);
        }
        Ok(out)
    }

    /// Every instance's addresses, by instance name (one query, for the instance list).
    pub fn addresses_by_instance(
        &self,
    ) -> Result<std::collections::HashMap<String, AddressRecord>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare("SELECT ipv4, ipv6, mac, instance FROM addresses")?;
        let rows = stmt.query_map([], |row| Ok((row.get::<_, String>(3)?, from_row(row)?)))?;
        let mut out = std::collections::HashMap::new();
        for row in rows {
            let (instance, record) = row?;
            out.insert(instance, record?);
        }
        Ok(out)
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
            ipv4: Ipv4Addr::new(10, 88, 0, 2),
            ipv6: Some(Ipv6Addr::new(0xfd42, 0x88, 0, 0, 0, 0, 0, 2)),
            mac: MacAddr::new([0x52, 0x54, 0, 0, 0, 2]),
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

    #[test]
    fn stored_text_is_unchanged_and_corrupt_rows_are_named() -> Result<(), StoreError> {
        let store = Store::open_in_memory()?;
        let a = record("a");
        store.insert_instance(&a)?;
        let addr = AddressRecord {
            ipv4: Ipv4Addr::new(10, 88, 0, 12),
            ipv6: Some(Ipv6Addr::new(0xfd42, 0x88, 0, 0, 0, 0, 0, 0xc)),
            mac: MacAddr::new([0x52, 0x54, 0, 0x12, 0x34, 0x56]),
        };
        store.assign_addresses(&a.name, &addr)?;
        let text: (String, String, String) =
            store
                .conn()
                .query_row("SELECT ipv4, ipv6, mac FROM addresses", [], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?))
                })?;
        assert_eq!(
            text,
            (
                "10.88.0.12".into(),
                "fd42:88::c".into(),
                "52:54:00:12:34:56".into()
            )
        );
        store
            .conn()
            .execute("UPDATE addresses SET mac = 'not-a-mac'", [])?;
        assert!(matches!(
            store.addresses_of(&a.name),
            Err(StoreError::Corrupt {
                column: "addresses.mac",
                ..
            })
        ));
        Ok(())
    }
}
