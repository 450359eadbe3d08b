//! Scheduled snapshots: each instance's schedule (cron or `@daily`), checked once a minute.
//! A due instance gets an `auto-YYYYMMDD-HHMM` snapshot; scheduled snapshots past their expiry,
//! or beyond the schedule's `max` (oldest first), are deleted. Manual snapshots are never pruned.

use std::sync::Arc;
use std::time::Duration;

use berth_store::ScheduleRecord;
use berth_types::events::LifecycleAction;
use berth_types::schedule::parse_duration;
use berth_types::snapshot::SnapshotSchedule;
use berth_types::{InstanceName, InstanceState};
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::app::error::{HostError, error_chain};
use crate::app::{App, AppError, BusyGuard};

/// How often the scheduler looks for due work.
const TICK: Duration = Duration::from_secs(60);

impl App {
    /// Sets `name`'s schedule from a PATCH; an empty `schedule` removes it.
    pub(crate) fn set_snapshot_schedule(
        &self,
        name: &InstanceName,
        schedule: &SnapshotSchedule,
    ) -> Result<(), AppError> {
        match schedule.validate()? {
            None => self.store.set_snapshot_schedule(name, None)?,
            Some(_) => self.store.set_snapshot_schedule(name, Some(schedule))?,
        }
        Ok(())
    }

    /// Runs the scheduler once a minute for as long as berthd runs.
    pub(crate) fn spawn_snapshot_scheduler(self: &Arc<Self>) {
        self.spawn_every(TICK, |app| async move {
            app.run_snapshot_schedules(Utc::now()).await;
        });
    }

    /// Takes the snapshots due at `now` and prunes; returns how many it took. Public so tests
    /// can drive the clock.
    pub async fn run_snapshot_schedules(self: &Arc<Self>, now: DateTime<Utc>) -> usize {
        let schedules = match self.store.snapshot_schedules() {
            Ok(s) => s,
            Err(e) => {
                tracing::error!(error = %error_chain(&e), "cannot read snapshot schedules");
                return 0;
            }
        };
        let mut taken = 0;
        for entry in schedules {
            match self.run_schedule(&entry, now).await {
                Ok(true) => taken += 1,
                Ok(false) => {}
                Err(e) => {
                    tracing::warn!(instance = %entry.instance, error = %error_chain(&e), "scheduled snapshot failed")
                }
            }
            if let Err(e) = self.prune_snapshots(&entry, now).await {
                tracing::warn!(instance = %entry.instance, error = %error_chain(&e), "pruning snapshots failed");
            }
        }
        taken + self.run_backup_schedules(now)
    }

    /// Starts the backups due at `now` (as operations); returns how many it started.
    fn run_backup_schedules(self: &Arc<Self>, now: DateTime<Utc>) -> usize {
        let daemon = crate::app::access::daemon();
        let Ok(schedules) = self.store.backup_schedules() else {
            return 0;
        };
        let mut started = 0;
        for berth_store::BackupScheduleRecord {
            instance,
            schedule: raw,
            last_run,
        } in schedules
        {
            let Ok(schedule) = berth_types::schedule::Schedule::parse(&raw, "backups.schedule")
            else {
                continue;
            };
            if schedule
                .next_after(last_run.unwrap_or(now))
                .is_none_or(|at| at > now)
            {
                continue;
            }
            match self.create_backup(&daemon, instance.as_str(), Default::default()) {
                Ok(op) => {
                    started += 1;
                    let _ = self.store.mark_backup_run(&instance, now);
                    tracing::info!(instance = %instance, operation = %op.id, "scheduled backup");
                }
                // Busy or gone: tried again on the next tick.
                Err(e) => {
                    tracing::debug!(instance = %instance, error = %e, "scheduled backup deferred")
                }
            }
        }
        started
    }

    async fn run_schedule(
        self: &Arc<Self>,
        entry: &ScheduleRecord,
        now: DateTime<Utc>,
    ) -> Result<bool, HostError> {
        let Ok(Some(schedule)) = entry.schedule.validate() else {
            return Ok(false);
        };
        let since = entry.last_run.unwrap_or(now);
        let due = schedule.next_after(since).is_some_and(|at| at <= now);
        if !due {
            return Ok(false);
        }
        let Some(record) = self.store.get_instance(&entry.instance)? else {
            return Ok(false);
        };
        if matches!(
            record.state,
            InstanceState::Creating | InstanceState::Deleting
        ) {
            return Ok(false);
        }
        // Mark the instance busy like an operation would; when it already is, try next tick.
        let _guard = {
            let mut busy = self.busy_lock();
            if busy.contains_key(&record.name) {
                return Ok(false);
            }
            busy.insert(record.name.clone(), Uuid::nil());
            BusyGuard {
                app: self.clone(),
                name: record.name.clone(),
            }
        };
        let expires_at = match &entry.schedule.expiry {
            Some(raw) => Some(
                now + parse_duration(raw, "expiry")
                    .map_err(|e| HostError::Corrupt(e.to_string()))?,
            ),
            None => None,
        };
        let snap = format!("auto-{}", now.format("%Y%m%d-%H%M"));
        self.take_scheduled_snapshot(record.clone(), &snap, expires_at)
            .await
            .map_err(|e| HostError::host(format!("taking snapshot {snap}"), e))?;
        self.publish_snapshot_event(&record.name, LifecycleAction::SnapshotCreated, &snap);
        self.store.mark_schedule_run(&record.name, now)?;
        Ok(true)
    }

    async fn prune_snapshots(
        &self,
        entry: &ScheduleRecord,
        now: DateTime<Utc>,
    ) -> Result<(), HostError> {
        let scheduled: Vec<_> = self
            .store
            .list_snapshots(&entry.instance)?
            .into_iter()
            .filter(|s| s.scheduled)
            .collect();
        let mut keep = Vec::new();
        for snap in scheduled {
            if snap.expires_at.is_some_and(|at| at <= now) {
                self.remove_snapshot(&entry.instance, &snap.name).await?;
                tracing::info!(instance = %entry.instance, snapshot = snap.name, "expired snapshot deleted");
                self.publish_snapshot_event(
                    &entry.instance,
                    LifecycleAction::SnapshotDeleted,
                    &snap.name,
                );
            } else {
                keep.push(snap);
            }
        }
        if let Some(max) = entry.schedule.max {
            let excess = keep.len().saturating_sub(max as usize);
            for snap in keep.iter().take(excess) {
                self.remove_snapshot(&entry.instance, &snap.name).await?;
                tracing::info!(instance = %entry.instance, snapshot = snap.name, "snapshot over the schedule's max deleted");
                self.publish_snapshot_event(
                    &entry.instance,
                    LifecycleAction::SnapshotDeleted,
                    &snap.name,
                );
            }
        }
        Ok(())
    }
}
