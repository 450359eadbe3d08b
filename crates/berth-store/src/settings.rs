//! The `settings` table: host-wide settings, one JSON value per key. It may hold secrets (a
//! WireGuard private key), which is why the database file is 0600.

use rusqlite::{OptionalExtension, params};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::{Store, StoreError};

impl Store {
    pub fn get_setting<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, StoreError> {
        let raw: Option<String> = self
            .conn()
            .query_row("SELECT value FROM settings WHERE key = ?1", [key], |row| {
                row.get(0)
            })
            .optional()?;
        raw.map(|text| {
            serde_json::from_str(&text).map_err(|source| StoreError::Json {
                column: "settings.value",
                source,
            })
        })
        .transpose()
    }

    pub fn set_setting<T: Serialize>(&self, key: &str, value: &T) -> Result<(), StoreError> {
        let text = serde_json::to_string(value).map_err(|source| StoreError::Json {
            column: "settings.value",
            source,
        })?;
        self.conn().execute(
            "INSERT INTO settings (key, value) VALUES (?1, ?2) \
             ON CONFLICT(key) DO UPDATE SET value = ?2",
            params![key, text],
        )?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_round_trip() -> Result<(), StoreError> {
        let store = Store::open_in_memory()?;
        assert_eq!(store.get_setting::<Vec<u32>>("x")?, None);
        store.set_setting("x", &vec![1u32, 2])?;
        store.set_setting("x", &vec![3u32])?;
        assert_eq!(store.get_setting::<Vec<u32>>("x")?, Some(vec![3]));
        Ok(())
    }
}
