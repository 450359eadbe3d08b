//! The incremental rollups: an open bucket's running sums and maxima, writing a closed bucket's
//! row, and rebuilding the open buckets after a restart.

use rusqlite::{Transaction, params};

use super::{FIELDS, Values};
use crate::db::DbError;
use crate::tier::{RETENTION, TIERS, bucket};

pub(super) const INSERT: &str = "INSERT OR REPLACE INTO metrics_points
    (series, tier, time, n, a0, a1, a2, a3, a4, a5, a6, a7, a8, m0, m1, m2, m3, m4, m5, m6, m7, m8)
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22)";

/// One open bucket: sums, weights and maxima per field.
#[derive(Debug, Clone)]
pub(super) struct Acc {
    pub(super) bucket: i64,
    n: i64,
    sum: [f64; FIELDS],
    weight: [i64; FIELDS],
    pub(super) max: Values,
}

impl Acc {
    pub(super) fn new(bucket: i64) -> Self {
        Self {
            bucket,
            n: 0,
            sum: [0.0; FIELDS],
            weight: [0; FIELDS],
            max: [None; FIELDS],
        }
    }

    /// Adds `n` samples whose average is `avg` and maximum `max`.
    pub(super) fn add(&mut self, n: i64, avg: &Values, max: &Values) {
        self.n += n;
        for i in 0..FIELDS {
            if let Some(a) = avg[i] {
                self.sum[i] += a * n as f64;
                self.weight[i] += n;
                let m = max[i].unwrap_or(a);
                self.max[i] = Some(self.max[i].map_or(m, |old| old.max(m)));
            }
        }
    }

    pub(super) fn merge(&mut self, other: &Acc) {
        self.n += other.n;
        for i in 0..FIELDS {
            self.sum[i] += other.sum[i];
            self.weight[i] += other.weight[i];
            if let Some(m) = other.max[i] {
                self.max[i] = Some(self.max[i].map_or(m, |old| old.max(m)));
            }
        }
    }

    pub(super) fn avg(&self) -> Values {
        std::array::from_fn(|i| {
            (self.weight[i] > 0).then(|| round(i, self.sum[i] / self.weight[i] as f64))
        })
    }
}

/// Byte and count fields are kept whole (SQLite then stores them as compact integers); CPU
/// percent to a thousandth.
fn round(field: usize, v: f64) -> f64 {
    if field == 0 {
        (v * 1000.0).round() / 1000.0
    } else {
        v.round()
    }
}

pub(super) fn write_acc(
    stmt: &mut rusqlite::CachedStatement<'_>,
    id: i64,
    tier: usize,
    acc: &Acc,
) -> Result<(), DbError> {
    let a = acc.avg();
    let m: Values = std::array::from_fn(|i| acc.max[i].map(|v| round(i, v)));
    stmt.execute(params![
        id,
        tier as i64,
        acc.bucket,
        acc.n,
        a[0],
        a[1],
        a[2],
        a[3],
        a[4],
        a[5],
        a[6],
        a[7],
        a[8],
        m[0],
        m[1],
        m[2],
        m[3],
        m[4],
        m[5],
        m[6],
        m[7],
        m[8]
    ])?;
    Ok(())
}

/// Rebuilds a series' open buckets at `time` from the finer tiers' rows (after a restart), and
/// writes the buckets that closed while berthd was not running from the rows they cover.
pub(super) fn reload(
    tx: &Transaction,
    id: i64,
    time: i64,
    res: &[i64; TIERS],
) -> Result<[Option<Acc>; TIERS], DbError> {
    let mut accs: [Option<Acc>; TIERS] = Default::default();
    let mut rows_stmt = tx.prepare_cached(
        "SELECT time, n, a0, a1, a2, a3, a4, a5, a6, a7, a8, m0, m1, m2, m3, m4, m5, m6, m7, m8
         FROM metrics_points WHERE series = ?1 AND tier = ?2 AND time >= ?3 ORDER BY time",
    )?;
    let mut insert = tx.prepare_cached(INSERT)?;
    for tier in 1..TIERS {
        let open_bucket = bucket(time, res[tier]);
        let last: Option<i64> = tx.query_row(
            "SELECT MAX(time) FROM metrics_points WHERE series = ?1 AND tier = ?2",
            params![id, tier as i64],
            |r| r.get(0),
        )?;
        let from = last.map_or(time - RETENTION[tier - 1], |t| t + res[tier]);
        let mut current: Option<Acc> = None;
        let mut rows = rows_stmt.query(params![id, tier as i64 - 1, from])?;
        while let Some(row) = rows.next()? {
            let t: i64 = row.get(0)?;
            let n: i64 = row.get(1)?;
            let avg: Values = std::array::from_fn(|i| row.get(i + 2).ok().flatten());
            let max: Values = std::array::from_fn(|i| row.get(i + 2 + FIELDS).ok().flatten());
            let b = bucket(t, res[tier]);
            if let Some(done) = current.take_if(|a| a.bucket != b) {
                write_acc(&mut insert, id, tier, &done)?;
            }
            current
                .get_or_insert_with(|| Acc::new(b))
                .add(n, &avg, &max);
        }
        if let Some(done) = current.take_if(|a| a.bucket != open_bucket) {
            write_acc(&mut insert, id, tier, &done)?;
        }
        if let Some(finer) = accs[tier - 1].as_ref() {
            current
                .get_or_insert_with(|| Acc::new(open_bucket))
                .merge(finer);
        }
        accs[tier] = current;
    }
    Ok(accs)
}
