//! Metrics in berthd: the collector task (every `[metrics] interval`), the time series it
//! feeds, the last tick for `/metrics`, and alert evaluation. `App::collect_metrics` is one
//! tick; it returns the tick's samples, which is where the events bus will publish them.

mod alerts;
mod history;
pub use history::HistoryQuery;
mod notify;
mod targets;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use berth_metrics::alerts::email::SmtpSettings;
use berth_metrics::alerts::{AlertEngine, AlertStore};
use berth_metrics::collector::{Collector, Disk, Sources, Tick};
use berth_metrics::series::{HOST_SERIES, SeriesStore, instance_series};
use berth_types::events::Event;

use crate::app::error::error_chain;
use crate::app::{App, AppError};
use crate::config::Config;

/// Retention runs this often (in ticks of the collector it is at most every 5 minutes).
const PRUNE_EVERY: Duration = Duration::from_secs(300);
/// Alert events are kept this long.
const EVENT_RETENTION: i64 = 90 * 86_400;
/// Disk measurements started per tick at most (each may walk qgroups or a tree).
const DISK_PER_TICK: usize = 50;

/// What the metrics side of berthd holds.
pub struct MetricsService {
    pub series: SeriesStore,
    pub alerts: AlertEngine,
    collector: Option<Mutex<Collector>>,
    last: RwLock<Option<Arc<Tick>>>,
    /// Last disk measurement per instance: when (unix seconds) and what.
    disk: Mutex<HashMap<String, (i64, Disk)>>,
    /// Init PIDs of running guests, learnt once from the runtime.
    pids: Mutex<HashMap<String, i32>>,
    last_prune: Mutex<i64>,
    /// When the pool-wide disk listing last ran (unix seconds).
    last_disk_batch: Mutex<i64>,
    pub(crate) smtp: Option<SmtpSettings>,
    disk_interval: i64,
    /// Sample every backend's instances (synthetic cgroup trees in tests), not only builtin.
    all_backends: bool,
}

impl MetricsService {
    pub fn open(config: &Config) -> Result<Self, AppError> {
        let open = || {
            berth_metrics::db::open(&config.database_path())
                .map_err(|e| AppError::internal("opening the metrics tables", error_chain(&e)))
        };
        let interval = config
            .metrics
            .interval_seconds()
            .map_err(AppError::Internal)?;
        let disk_interval = config
            .metrics
            .disk_interval_seconds()
            .map_err(AppError::Internal)?;
        let smtp = match &config.alerts.smtp {
            Some(s) => Some(s.settings().map_err(AppError::Internal)?),
            None => None,
        };
        let alerts = AlertEngine::new(AlertStore::new(open()?));
        alerts
            .store
            .seed(&berth_metrics::alerts::rules::defaults(
                berth_auth::bootstrap::ADMIN,
            ))
            .map_err(|e| AppError::internal("seeding alert rules", error_chain(&e)))?;
        Ok(Self {
            series: SeriesStore::new(open()?, interval),
            alerts,
            collector: sources(config).map(|s| Mutex::new(Collector::new(s))),
            last: RwLock::default(),
            disk: Mutex::default(),
            pids: Mutex::default(),
            // The first retention pass runs one period after start, not during start-up.
            last_prune: Mutex::new(chrono::Utc::now().timestamp()),
            last_disk_batch: Mutex::new(0),
            smtp,
            disk_interval,
            all_backends: config.testing.metrics_root.is_some(),
        })
    }

    /// The last tick, for `/metrics`.
    pub fn last_tick(&self) -> Option<Arc<Tick>> {
        self.last.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// The collector interval, seconds.
    pub fn interval(&self) -> i64 {
        self.series.interval()
    }

    /// Changes the collector interval from the next tick on (e.g. from `PUT /settings`); it
    /// must divide a minute so the rollup buckets nest.
    pub fn set_interval(&self, seconds: i64) -> Result<(), berth_types::FieldError> {
        if !berth_metrics::tier::VALID_INTERVALS.contains(&seconds) {
            return Err(berth_types::FieldError::new(
                "metrics.interval_seconds",
                format!(
                    "{seconds} does not divide a minute; use 1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30 or 60"
                ),
            ));
        }
        self.series.set_interval(seconds);
        Ok(())
    }
}

/// Where the collector reads: this host's cgroups (v1/hybrid or v2), `/sys/class/net` and
/// `/proc`; or synthetic trees in tests. `None` when no cgroup filesystem is mounted, or one
/// without a hierarchy the collector reads.
fn sources(config: &Config) -> Option<Sources> {
    if let Some(root) = &config.testing.metrics_root {
        return Some(Sources {
            cgroups: berth_cgroups::Layout::V2(root.join("cgroup")),
            sys_class_net: root.join("net"),
            proc: "/proc".into(),
        });
    }
    let cgroups = match berth_cgroups::Layout::detect() {
        Ok(layout) => layout,
        Err(e) => {
            tracing::warn!(error = %e, "no cgroups: instance metrics are off");
            return None;
        }
    };
    if let Err(e) = berth_metrics::cgroup::check_readable(&cgroups) {
        tracing::warn!(error = %e, "instance metrics are off");
        return None;
    }
    Some(Sources {
        cgroups,
        sys_class_net: "/sys/class/net".into(),
        proc: "/proc".into(),
    })
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl App {
    /// Runs the collector every interval for as long as berthd runs.
    pub(crate) fn spawn_metrics_collector(self: &Arc<Self>) {
        if self.metrics.all_backends {
            // Synthetic trees: the test drives every tick with its own clock.
            return;
        }
        self.follow_interval_setting();
        let app = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut next = tokio::time::Instant::now();
            loop {
                tokio::time::sleep_until(next).await;
                let Some(app) = app.upgrade() else { return };
                let now_ms = chrono::Utc::now().timestamp_millis();
                app.collect_metrics(now_ms).await;
                // The interval may change between ticks; a slow tick delays the next one.
                let every = Duration::from_secs(app.metrics.interval().max(1) as u64);
                next = (next + every).max(tokio::time::Instant::now());
            }
        });
    }

    /// One tick at `now_ms` (unix milliseconds; tests drive it): samples every running
    /// instance and the host, records them, prunes when due, evaluates alerts and sends their
    /// notifications in the background. Returns the tick (for the events bus).
    pub async fn collect_metrics(self: &Arc<Self>, now_ms: i64) -> Option<Arc<Tick>> {
        let now = now_ms.div_euclid(1000);
        let targets = self.metric_targets(now).await;
        let watched: Vec<String> = targets.iter().map(|t| t.name.clone()).collect();
        let pool = self.storage.driver().pool_usage().await.ok();
        let app = self.clone();
        let result = tokio::task::spawn_blocking(move || {
            let m = &app.metrics;
            let collector = m.collector.as_ref()?;
            let tick = lock(collector).collect(now_ms, &targets, pool);
            let mut samples: Vec<_> = tick
                .instances
                .iter()
                .map(|s| (instance_series(&s.name), s.point.clone()))
                .collect();
            if let Some(host) = &tick.host {
                samples.push((HOST_SERIES.to_owned(), host.point.clone()));
            }
            if let Err(e) = m.series.record(tick.time, &samples) {
                tracing::error!(error = %error_chain(&e), "cannot record metrics");
            }
            // A guest whose init is gone restarted (or stopped): learn its PID again.
            let mut pids = lock(&m.pids);
            for s in tick.instances.iter().filter(|s| s.uptime_seconds.is_none()) {
                pids.remove(&s.name);
            }
            drop(pids);
            app.prune_metrics_if_due(now);
            Some(Arc::new(tick))
        })
        .await;
        let tick = match result {
            Ok(Some(tick)) => tick,
            Ok(None) => return None,
            Err(e) => {
                tracing::error!(error = %e, "metrics task failed");
                return None;
            }
        };
        // A guest believed running that had no cgroup or init this tick may have stopped.
        let gone: Vec<String> = watched
            .into_iter()
            .filter(|name| {
                !tick
                    .instances
                    .iter()
                    .any(|s| s.name == *name && s.uptime_seconds.is_some())
            })
            .collect();
        self.notice_state_changes(&gone).await;
        *self.metrics.last.write().unwrap_or_else(|p| p.into_inner()) = Some(tick.clone());
        self.publish_samples(&tick);
        self.evaluate_alerts(&tick).await;
        Some(tick)
    }

    /// Each sample as a live `metrics` event: an instance's for its owner (and admins), the
    /// host's for admins.
    fn publish_samples(&self, tick: &Tick) {
        let instances = tick
            .instances
            .iter()
            .map(|s| Event::metrics(Some(&s.name), Some(&s.owner), &s.point));
        let host = tick
            .host
            .iter()
            .map(|h| Event::metrics(None, None, &h.point));
        for event in instances.chain(host) {
            match event {
                Ok(event) => self.events.publish(event),
                Err(e) => tracing::error!(error = %e, "cannot encode a metrics event"),
            }
        }
    }

    /// Applies the settings' metrics interval now and whenever `PUT /settings` changes it.
    fn follow_interval_setting(self: &Arc<Self>) {
        let mut settings = self.watch_settings();
        let apply = |app: &App, seconds: u32| {
            if let Err(e) = app.metrics.set_interval(i64::from(seconds)) {
                tracing::warn!(error = %e, "metrics interval from the settings not applied");
            }
        };
        apply(self, self.settings().metrics.interval_seconds);
        let app = Arc::downgrade(self);
        tokio::spawn(async move {
            while settings.changed().await.is_ok() {
                let Some(app) = app.upgrade() else { return };
                let seconds = settings.borrow_and_update().metrics.interval_seconds;
                apply(&app, seconds);
            }
        });
    }

    /// Drops a deleted instance's history and cached readings.
    pub(crate) fn forget_metrics(&self, name: &str) {
        let m = &self.metrics;
        if let Err(e) = m.series.forget(&instance_series(name)) {
            tracing::warn!(instance = name, error = %error_chain(&e), "cannot delete metrics history");
        }
        lock(&m.disk).remove(name);
        lock(&m.pids).remove(name);
    }

    /// Retention: old buckets, deleted instances' series, old alert events.
    fn prune_metrics_if_due(&self, now: i64) {
        let m = &self.metrics;
        {
            let mut last = lock(&m.last_prune);
            if now - *last < PRUNE_EVERY.as_secs() as i64 {
                return;
            }
            *last = now;
        }
        let Ok(records) = self.store.list_instances() else {
            return;
        };
        let live: std::collections::HashSet<String> = records
            .iter()
            .map(|r| instance_series(r.name.as_str()))
            .collect();
        match m
            .series
            .prune(now, |s| s == HOST_SERIES || live.contains(s))
        {
            Ok(n) => tracing::debug!(deleted = n, "metrics retention"),
            Err(e) => tracing::error!(error = %error_chain(&e), "metrics retention failed"),
        }
        let _ = m.alerts.store.prune_events(now - EVENT_RETENTION);
        lock(&m.disk).retain(|n, _| live.contains(&instance_series(n)));
    }
}
