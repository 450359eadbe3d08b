//! The quota ledger's sums: six counters, cpu in millicores so sums are exact.

use super::Usage;

/// Usage as stored: cpu in millicores so sums are exact.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(super) struct Ledger(pub(super) [u64; 6]);

pub(super) fn to_milli(cpu: f64) -> u64 {
    (cpu * 1000.0).round().max(0.0) as u64
}

impl Ledger {
    pub(super) fn of(usage: &Usage) -> Self {
        Self([
            u64::from(usage.instances),
            to_milli(usage.cpu),
            usage.memory,
            usage.disk,
            u64::from(usage.snapshots),
            u64::from(usage.forwards),
        ])
    }

    pub(super) fn usage(&self) -> Usage {
        let [instances, cpu, memory, disk, snapshots, forwards] = self.0;
        Usage {
            instances: u32::try_from(instances).unwrap_or(u32::MAX),
            cpu: cpu as f64 / 1000.0,
            memory,
            disk,
            snapshots: u32::try_from(snapshots).unwrap_or(u32::MAX),
            forwards: u32::try_from(forwards).unwrap_or(u32::MAX),
        }
    }

    pub(super) fn plus(&self, other: &Ledger) -> Ledger {
        Ledger(std::array::from_fn(|i| {
            self.0[i].saturating_add(other.0[i])
        }))
    }

    pub(super) fn minus(&self, other: &Ledger) -> Ledger {
        Ledger(std::array::from_fn(|i| {
            self.0[i].saturating_sub(other.0[i])
        }))
    }

    pub(super) fn read(row: &rusqlite::Row<'_>) -> rusqlite::Result<Ledger> {
        let mut values = [0u64; 6];
        for (i, value) in values.iter_mut().enumerate() {
            *value = row.get::<_, Option<i64>>(i)?.unwrap_or(0).max(0) as u64;
        }
        Ok(Ledger(values))
    }
}
