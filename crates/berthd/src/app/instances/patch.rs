//! Changing an instance's limits and autostart flag.

use berth_runtime::{Placement, RootfsSource, Runtime};
use berth_types::api::PatchInstanceRequest;
use berth_types::events::LifecycleAction;
use berth_types::{FieldError, Instance, InstanceState};

use crate::app::Principal;
use crate::app::access::Want;
use crate::app::error::error_chain;
use crate::app::{App, AppError};

impl App {
    pub async fn patch_instance(
        &self,
        caller: &Principal,
        name: &str,
        request: PatchInstanceRequest,
    ) -> Result<Instance, AppError> {
        let mut record = self.instance_for(caller, name, Want::Write)?;
        self.ensure_writable(&record.backend).await?;
        if self.busy_lock().contains_key(&record.name) {
            return Err(AppError::Conflict(format!(
                "instance {name} is busy with an operation; wait for it"
            )));
        }
        if let Some(schedule) = &request.snapshots {
            schedule.validate()?;
        }
        if let Some(backups) = &request.backups
            && !backups.schedule.trim().is_empty()
        {
            berth_types::schedule::Schedule::parse(&backups.schedule, "backups.schedule")?;
        }
        record.state = self.observed_state(&record).await;
        if let Some(patch) = &request.limits {
            let limits = record.limits.merged(patch);
            limits.validate()?;
            // Growing needs room in the owner's quota (checked and held atomically); if the
            // change then fails, the old size is held again.
            self.reserve_instance(&record.owner, record.id, &limits)?;
            let applied = self.apply_limits(&record, patch, &limits).await;
            if let Err(e) = applied {
                let _ = self.reserve_instance(&record.owner, record.id, &record.limits);
                return Err(e);
            }
            record.limits = limits;
        }
        if let Some(autostart) = request.autostart {
            record.autostart = autostart;
        }
        if let Some(schedule) = &request.snapshots {
            self.set_snapshot_schedule(&record.name, schedule)?;
        }
        if let Some(backups) = &request.backups {
            let schedule = Some(backups.schedule.trim()).filter(|s| !s.is_empty());
            self.store.set_backup_schedule(&record.name, schedule)?;
        }
        self.store.update_instance(&record)?;
        let instance = self.get_instance(caller, name).await?;
        self.events.lifecycle(
            &instance.name,
            &instance.owner,
            LifecycleAction::InstanceUpdated,
            Some(instance.state),
            None,
        );
        Ok(instance)
    }

    /// Puts new limits into effect: the disk quota now, the rest on a running guest's cgroup.
    async fn apply_limits(
        &self,
        record: &berth_store::InstanceRecord,
        patch: &berth_types::Limits,
        limits: &berth_types::Limits,
    ) -> Result<(), AppError> {
        let capabilities = self.capabilities(&record.backend);
        if patch.disk.is_some() && capabilities.rootfs == RootfsSource::Backend {
            return Err(FieldError::new(
                "limits.disk",
                format!(
                    "backend {} keeps the root disk itself: resize it there (on proxmox: pct \
                     resize), not by Berth",
                    record.backend
                ),
            )
            .into());
        }
        if let Some(disk) = patch.disk
            && capabilities.rootfs == RootfsSource::Local
        {
            self.storage.disk_limit_supported("limits.disk")?;
            self.storage
                .set_disk_limit(&record.name, disk)
                .await
                .map_err(|e| AppError::internal("setting the disk limit", e))?;
        }
        // A remote backend keeps a stopped guest's config too, so limits apply in any state.
        if capabilities.placement == Placement::Remote
            || matches!(
                record.state,
                InstanceState::Running | InstanceState::Suspended
            )
        {
            let runtime = self.runtime(&record.backend)?;
            runtime
                .update_limits(&record.name, limits)
                .await
                .map_err(|e| AppError::internal("applying limits", error_chain(&e)))?;
        }
        Ok(())
    }
}
