//! The rollup tiers (resolution and retention) and which tier answers which timeframe.
//!
//! | tier | resolution | kept | answers |
//! |---|---|---|---|
//! | 0 | the collector interval (10 s) | 1 hour | hour |
//! | 1 | 1 minute | 1 day | day |
//! | 2 | 30 minutes | 31 days | week, month |
//! | 3 | 6 hours | 366 days | year |
//! | 4 | 1 week | 10 years | decade |
//!
//! Proxmox VE 9 keeps 1 min for a day, 30 min for 30 days, 6 h for a year and a week for ten
//! years; tier 0 adds 10 s for the last hour. Every bucket keeps the average and the maximum.

use berth_types::metrics::Timeframe;

/// Number of tiers.
pub const TIERS: usize = 5;

/// Seconds per bucket of tiers 1.. (tier 0 is the collector interval).
pub const ROLLUP_RESOLUTION: [i64; TIERS] = [0, 60, 1800, 21_600, 604_800];

/// How long each tier's buckets are kept, seconds (a bucket's worth beyond the span it serves,
/// so a full span is always there).
pub const RETENTION: [i64; TIERS] = [
    3600 + 60,
    86_400 + 3600,
    31 * 86_400,
    366 * 86_400,
    3653 * 86_400,
];

/// Intervals the collector may use: they divide a minute, so every tier's buckets nest.
pub const VALID_INTERVALS: [i64; 12] = [1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30, 60];

/// The tiers' resolutions for a collector `interval`.
pub fn resolutions(interval: i64) -> [i64; TIERS] {
    let mut r = ROLLUP_RESOLUTION;
    r[0] = interval;
    r
}

/// The tier that answers `timeframe`.
pub fn tier_for(timeframe: Timeframe) -> usize {
    match timeframe {
        Timeframe::Hour => 0,
        Timeframe::Day => 1,
        Timeframe::Week | Timeframe::Month => 2,
        Timeframe::Year => 3,
        Timeframe::Decade => 4,
    }
}

/// Start of the bucket of `resolution` seconds holding `time`.
pub fn bucket(time: i64, resolution: i64) -> i64 {
    time.div_euclid(resolution) * resolution
}
