//! Berth's metrics: reading guests' cgroups, veth counters and host totals (`collector`),
//! keeping them as time series with rollups and retention in SQLite (`series`), the OpenMetrics
//! text for Prometheus (`openmetrics`), and alert rules with email and webhook notifications
//! (`alerts`).

pub mod alerts;
pub mod cgroup;
pub mod collector;
pub mod db;
pub mod host;
pub mod net;
pub mod openmetrics;
pub mod series;
pub mod tier;

pub use db::DbError;
pub use series::SeriesStore;
