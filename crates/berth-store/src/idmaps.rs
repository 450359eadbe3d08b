//! The `idmaps` table: each unprivileged instance's range of 65,536 host ids. A range is never
//! held by two instances (UNIQUE start; ranges are aligned, so equal starts are the only
//! overlap), is allocated in one IMMEDIATE transaction (two daemons or threads allocating at
//! once get different ranges), stays with the instance across restarts, snapshots, restores
//! and a daemon's re-adoption of running guests, and goes with it (ON DELETE CASCADE).
//!
//! Its schema is counted on its own (`idmaps_schema`, see [`crate::counted`]) so it never
//! collides with migrations other branches append to the store's own list.

use berth_types::{IdPool, IdRange, InstanceName};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use crate::{Store, StoreError};

const MIGRATIONS: &[&str] = &[
    // 1: one range per instance.
    "CREATE TABLE idmaps (
        instance    TEXT PRIMARY KEY REFERENCES instances(name) ON DELETE CASCADE,
        host_start  INTEGER NOT NULL UNIQUE
    );",
];

pub(crate) fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    match crate::counted::apply_counted(conn, "idmaps_schema", MIGRATIONS)? {
        Ok(()) => Ok(()),
        Err((found, known)) => Err(StoreError::TooNew { found, known }),
    }
}

fn range(column: &'static str, start: i64) -> Result<IdRange, StoreError> {
    u32::try_from(start)
        .ok()
        .and_then(|s| IdRange::new(s).ok())
        .ok_or_else(|| StoreError::Corrupt {
            column,
            value: start.to_string(),
        })
}

impl Store {
    /// `name`'s range: the one it holds, else the lowest free one of `pool`. `None` when
    /// the pool is full.
    pub fn allocate_idmap(
        &self,
        name: &InstanceName,
        pool: &IdPool,
    ) -> Result<Option<IdRange>, StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let held: Option<i64> = tx
            .query_row(
                "SELECT host_start FROM idmaps WHERE instance = ?1",
                [name.as_str()],
                |row| row.get(0),
            )
            .optional()?;
        if let Some(start) = held {
            return range("idmaps.host_start", start).map(Some);
        }
        let used: Vec<i64> = {
            let mut stmt = tx.prepare(
                "SELECT host_start FROM idmaps WHERE host_start BETWEEN ?1 AND ?2 \
                 ORDER BY host_start",
            )?;
            let rows = stmt.query_map(params![pool.base(), pool.last()], |row| row.get(0))?;
            rows.collect::<Result<_, _>>()?
        };
        let mut used = used.into_iter().peekable();
        let free = (0..pool.slots()).filter_map(|i| pool.range(i)).find(|r| {
            while used.next_if(|u| *u < i64::from(r.start())).is_some() {}
            used.peek() != Some(&i64::from(r.start()))
        });
        let Some(free) = free else {
            return Ok(None);
        };
        tx.execute(
            "INSERT INTO idmaps (instance, host_start) VALUES (?1, ?2)",
            params![name.as_str(), free.start()],
        )?;
        tx.commit()?;
        Ok(Some(free))
    }

    /// Records `range` for `name` (an imported or adopted instance whose range is known);
    /// a range another instance holds is `Conflict`.
    pub fn assign_idmap(&self, name: &InstanceName, range: IdRange) -> Result<(), StoreError> {
        let result = self.conn().execute(
            "INSERT INTO idmaps (instance, host_start) VALUES (?1, ?2)",
            params![name.as_str(), range.start()],
        );
        match result {
            Ok(_) => Ok(()),
            Err(e) if crate::is_unique_violation(&e) => Err(StoreError::Conflict(format!(
                "id range {range} or {name}'s range"
            ))),
            Err(e) => Err(e.into()),
        }
    }

    /// `name`'s range; `None` for a privileged instance (or one made before id ranges).
    pub fn idmap_of(&self, name: &InstanceName) -> Result<Option<IdRange>, StoreError> {
        let start: Option<i64> = self
            .conn()
            .query_row(
                "SELECT host_start FROM idmaps WHERE instance = ?1",
                [name.as_str()],
                |row| row.get(0),
            )
            .optional()?;
        start.map(|s| range("idmaps.host_start", s)).transpose()
    }

    /// Every range in use, by instance.
    pub fn all_idmaps(&self) -> Result<Vec<(InstanceName, IdRange)>, StoreError> {
        let conn = self.conn();
        let mut stmt =
            conn.prepare("SELECT instance, host_start FROM idmaps ORDER BY host_start")?;
        let rows = stmt.query_map([], |row| {
            Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)?))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (name, start) = row?;
            let name = InstanceName::parse(&name).map_err(|_| StoreError::Corrupt {
                column: "idmaps.instance",
                value: name.clone(),
            })?;
            out.push((name, range("idmaps.host_start", start)?));
        }
        Ok(out)
    }

    /// Releases `name`'s range; releasing none succeeds.
    pub fn release_idmap(&self, name: &InstanceName) -> Result<(), StoreError> {
        self.conn()
            .execute("DELETE FROM idmaps WHERE instance = ?1", [name.as_str()])?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::instances::tests::record;

    fn pool(slots: u32) -> IdPool {
        IdPool::new(0x7000_0000, slots * 65_536).expect("pool")
    }

    #[test]
    fn ranges_are_unique_kept_and_released() -> Result<(), StoreError> {
        let store = Store::open_in_memory()?;
        let names: Vec<_> = ["a", "b", "c"].iter().map(|n| record(n)).collect();
        for r in &names {
            store.insert_instance(r)?;
        }
        let pool = pool(2);
        let a = store.allocate_idmap(&names[0].name, &pool)?.expect("a");
        let b = store.allocate_idmap(&names[1].name, &pool)?.expect("b");
        assert_eq!((a.start(), b.start()), (0x7000_0000, 0x7001_0000));
        assert_eq!(
            store.allocate_idmap(&names[0].name, &pool)?,
            Some(a),
            "kept"
        );
        assert_eq!(store.allocate_idmap(&names[2].name, &pool)?, None, "full");
        assert!(matches!(
            store.assign_idmap(&names[2].name, a),
            Err(StoreError::Conflict(_))
        ));
        store.delete_instance(&names[0].name)?;
        assert_eq!(
            store.idmap_of(&names[0].name)?,
            None,
            "released with the instance"
        );
        assert_eq!(
            store.allocate_idmap(&names[2].name, &pool)?,
            Some(a),
            "reused"
        );
        assert_eq!(store.all_idmaps()?.len(), 2);
        store.release_idmap(&names[2].name)?;
        store.release_idmap(&names[2].name)?;
        assert_eq!(store.idmap_of(&names[2].name)?, None);
        Ok(())
    }

    #[test]
    fn concurrent_allocations_never_share_a_range() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("berth.db");
        let setup = Store::open(&path)?;
        let names: Vec<InstanceName> = (0..16)
            .map(|i| {
                let r = record(&format!("n{i}"));
                setup.insert_instance(&r).map(|()| r.name)
            })
            .collect::<Result<_, _>>()?;
        // Each thread has its own connection, like two daemons on one database file.
        let threads: Vec<_> = names
            .chunks(4)
            .map(|chunk| {
                let (path, chunk) = (path.clone(), chunk.to_vec());
                std::thread::spawn(move || -> Result<Vec<u32>, StoreError> {
                    let store = Store::open(&path)?;
                    chunk
                        .iter()
                        .map(|n| Ok(store.allocate_idmap(n, &pool(64))?.map_or(0, |r| r.start())))
                        .collect()
                })
            })
            .collect();
        let mut starts = Vec::new();
        for t in threads {
            starts.extend(t.join().map_err(|_| "thread panicked")??);
        }
        starts.sort_unstable();
        starts.dedup();
        assert_eq!(starts.len(), 16, "{starts:?}");
        assert!(!starts.contains(&0));
        Ok(())
    }
}
