//! The time series: one raw row per series and tick, rolled up incrementally into the coarser
//! tiers (see [`crate::tier`]) by in-memory accumulators that write a bucket's row once, when it
//! closes. A tick's rows for every series go in one transaction. After a restart a series'
//! open buckets are rebuilt from the finer tier's rows before its first new sample.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use berth_types::metrics::{Cf, MetricsHistory, MetricsPoint, Timeframe};
use rusqlite::{Connection, OptionalExtension, Transaction, params};

use crate::db::DbError;
use crate::tier::{RETENTION, TIERS, bucket, resolutions, tier_for};

mod rollup;
use rollup::{Acc, INSERT, reload, write_acc};

/// Fields per point, in column order.
pub const FIELDS: usize = 9;
/// A point's values in column order (`a0..a8`).
pub type Values = [Option<f64>; FIELDS];

/// The name of the host's series.
pub const HOST_SERIES: &str = "host";

/// The series name of an instance.
pub fn instance_series(name: &str) -> String {
    format!("instance:{name}")
}

pub fn values(p: &MetricsPoint) -> Values {
    [
        p.cpu_percent,
        p.memory_bytes,
        p.memory_limit_bytes,
        p.memory_cache_bytes,
        p.disk_bytes,
        p.disk_limit_bytes,
        p.net_rx_bytes_per_s,
        p.net_tx_bytes_per_s,
        p.processes,
    ]
}

pub fn point(time: i64, v: &Values) -> MetricsPoint {
    MetricsPoint {
        time,
        cpu_percent: v[0],
        memory_bytes: v[1],
        memory_limit_bytes: v[2],
        memory_cache_bytes: v[3],
        disk_bytes: v[4],
        disk_limit_bytes: v[5],
        net_rx_bytes_per_s: v[6],
        net_tx_bytes_per_s: v[7],
        processes: v[8],
    }
}

struct Inner {
    conn: Connection,
    ids: HashMap<String, i64>,
    /// Open buckets of tiers 1.. per series id (index 0 unused).
    open: HashMap<i64, [Option<Acc>; TIERS]>,
}

/// The time-series store on its own connection to the database file.
pub struct SeriesStore {
    inner: Mutex<Inner>,
    interval: std::sync::atomic::AtomicI64,
}

impl SeriesStore {
    /// Uses `conn` (already migrated); `interval` is the collector's, seconds.
    pub fn new(conn: Connection, interval: i64) -> Self {
        Self {
            inner: Mutex::new(Inner {
                conn,
                ids: HashMap::new(),
                open: HashMap::new(),
            }),
            interval: std::sync::atomic::AtomicI64::new(interval),
        }
    }

    /// The raw tier's resolution: the collector interval, seconds.
    pub fn interval(&self) -> i64 {
        self.interval.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// A new collector interval (one of [`crate::tier::VALID_INTERVALS`]); raw rows written
    /// before keep their times, the rollups are unaffected.
    pub fn set_interval(&self, seconds: i64) {
        self.interval
            .store(seconds, std::sync::atomic::Ordering::Relaxed);
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Records one tick: `samples` are (series name, point) taken at `time` (unix seconds). One
    /// transaction; closed buckets of the coarser tiers are written as they close.
    pub fn record(&self, time: i64, samples: &[(String, MetricsPoint)]) -> Result<(), DbError> {
        let res = resolutions(self.interval());
        let mut guard = self.lock();
        let Inner { conn, ids, open } = &mut *guard;
        let tx = conn.transaction()?;
        for (name, p) in samples {
            let id = series_id(&tx, ids, name)?;
            let v = values(p);
            let accs = match open.entry(id) {
                std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
                std::collections::hash_map::Entry::Vacant(e) => {
                    e.insert(reload(&tx, id, time, &res)?)
                }
            };
            let mut stmt = tx.prepare_cached(INSERT)?;
            let raw = bucket(time, res[0]);
            stmt.execute(params![
                id,
                0,
                raw,
                1,
                v[0],
                v[1],
                v[2],
                v[3],
                v[4],
                v[5],
                v[6],
                v[7],
                v[8],
                None::<f64>,
                None::<f64>,
                None::<f64>,
                None::<f64>,
                None::<f64>,
                None::<f64>,
                None::<f64>,
                None::<f64>,
                None::<f64>
            ])?;
            for (tier, acc) in accs.iter_mut().enumerate().skip(1) {
                let b = bucket(time, res[tier]);
                if let Some(done) = acc.take_if(|a| a.bucket != b) {
                    write_acc(&mut stmt, id, tier, &done)?;
                }
                acc.get_or_insert_with(|| Acc::new(b))
                    .add(1, &v, &[None; FIELDS]);
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// The history of `series` for `timeframe` up to `now`: one point per bucket of the tier
    /// that answers it, oldest first, `null` fields where there was no data.
    pub fn history(
        &self,
        series: &str,
        timeframe: Timeframe,
        cf: Cf,
        now: i64,
    ) -> Result<MetricsHistory, DbError> {
        let tier = tier_for(timeframe);
        let resolution = resolutions(self.interval())[tier];
        let end = bucket(now, resolution);
        let count = (timeframe.span() / resolution).max(1);
        let start = end - (count - 1) * resolution;
        let mut points: Vec<MetricsPoint> = (0..count)
            .map(|i| MetricsPoint {
                time: start + i * resolution,
                ..MetricsPoint::default()
            })
            .collect();
        let mut guard = self.lock();
        let Inner { conn, ids, open } = &mut *guard;
        let id = match ids.get(series) {
            Some(id) => Some(*id),
            None => conn
                .query_row(
                    "SELECT id FROM metrics_series WHERE name = ?1",
                    [series],
                    |r| r.get(0),
                )
                .optional()?,
        };
        if let Some(id) = id {
            let sql = match cf {
                Cf::Avg => {
                    "SELECT time, a0, a1, a2, a3, a4, a5, a6, a7, a8 FROM metrics_points
                    WHERE series = ?1 AND tier = ?2 AND time >= ?3 AND time <= ?4"
                }
                Cf::Max => {
                    "SELECT time, COALESCE(m0, a0), COALESCE(m1, a1), COALESCE(m2, a2),
                    COALESCE(m3, a3), COALESCE(m4, a4), COALESCE(m5, a5), COALESCE(m6, a6),
                    COALESCE(m7, a7), COALESCE(m8, a8) FROM metrics_points
                    WHERE series = ?1 AND tier = ?2 AND time >= ?3 AND time <= ?4"
                }
            };
            let mut stmt = conn.prepare_cached(sql)?;
            let mut rows = stmt.query(params![id, tier as i64, start, end])?;
            while let Some(row) = rows.next()? {
                let time: i64 = row.get(0)?;
                let v: Values = std::array::from_fn(|i| row.get(i + 1).ok().flatten());
                let slot = ((time - start) / resolution) as usize;
                if let Some(p) = points.get_mut(slot) {
                    *p = point(time, &v);
                }
            }
            // The bucket still open (not yet written: the series has had no sample in a later
            // bucket) comes from its accumulator.
            if let Some(acc) = open.get(&id).and_then(|a| a[tier].as_ref())
                && acc.bucket >= start
                && acc.bucket <= end
                && let Some(p) = points.get_mut(((acc.bucket - start) / resolution) as usize)
            {
                let v = match cf {
                    Cf::Avg => acc.avg(),
                    Cf::Max => acc.max,
                };
                *p = point(acc.bucket, &v);
            }
        }
        Ok(MetricsHistory {
            timeframe,
            cf,
            resolution,
            points,
        })
    }

    /// Deletes buckets past each tier's retention, and every series `keep` rejects (instances
    /// that no longer exist). Returns the rows deleted.
    pub fn prune(&self, now: i64, keep: impl Fn(&str) -> bool) -> Result<usize, DbError> {
        let mut guard = self.lock();
        let Inner { conn, ids, open } = &mut *guard;
        let tx = conn.transaction()?;
        let all: Vec<(i64, String)> = {
            let mut stmt = tx.prepare("SELECT id, name FROM metrics_series")?;
            stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<Result<_, _>>()?
        };
        let mut deleted = 0;
        for (id, name) in all {
            if keep(&name) {
                let mut stmt = tx.prepare_cached(
                    "DELETE FROM metrics_points WHERE series = ?1 AND tier = ?2 AND time < ?3",
                )?;
                for (tier, keep_for) in RETENTION.iter().enumerate() {
                    deleted += stmt.execute(params![id, tier as i64, now - keep_for])?;
                }
            } else {
                deleted += tx.execute("DELETE FROM metrics_points WHERE series = ?1", [id])?;
                tx.execute("DELETE FROM metrics_series WHERE id = ?1", [id])?;
                ids.remove(&name);
                open.remove(&id);
            }
        }
        tx.commit()?;
        Ok(deleted)
    }

    /// Deletes one series whole (an instance that was deleted); `false` when there was none.
    pub fn forget(&self, series: &str) -> Result<bool, DbError> {
        let mut guard = self.lock();
        let Inner { conn, ids, open } = &mut *guard;
        let tx = conn.transaction()?;
        let id: Option<i64> = tx
            .query_row(
                "SELECT id FROM metrics_series WHERE name = ?1",
                [series],
                |r| r.get(0),
            )
            .optional()?;
        if let Some(id) = id {
            tx.execute("DELETE FROM metrics_points WHERE series = ?1", [id])?;
            tx.execute("DELETE FROM metrics_series WHERE id = ?1", [id])?;
            open.remove(&id);
        }
        ids.remove(series);
        tx.commit()?;
        Ok(id.is_some())
    }

    /// Database pages in use, for measuring bytes per sample.
    pub fn database_bytes(&self) -> Result<i64, DbError> {
        let guard = self.lock();
        let pages: i64 = guard
            .conn
            .query_row("PRAGMA page_count", [], |r| r.get(0))?;
        let free: i64 = guard
            .conn
            .query_row("PRAGMA freelist_count", [], |r| r.get(0))?;
        let size: i64 = guard.conn.query_row("PRAGMA page_size", [], |r| r.get(0))?;
        Ok((pages - free) * size)
    }
}

fn series_id(tx: &Transaction, ids: &mut HashMap<String, i64>, name: &str) -> Result<i64, DbError> {
    if let Some(id) = ids.get(name) {
        return Ok(*id);
    }
    tx.execute(
        "INSERT OR IGNORE INTO metrics_series (name) VALUES (?1)",
        [name],
    )?;
    let id: i64 = tx.query_row(
        "SELECT id FROM metrics_series WHERE name = ?1",
        [name],
        |r| r.get(0),
    )?;
    ids.insert(name.to_owned(), id);
    Ok(id)
}

#[cfg(test)]
mod tests;
