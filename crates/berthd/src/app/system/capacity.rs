//! The capacity left for local guests (`GET /system`'s `capacity`), and the check that
//! refuses a launch that would not fit.

use berth_runtime::{MetricsSource, Placement};
use berth_store::InstanceRecord;
use berth_types::InstanceState;
use berth_types::capacity::CapacityLeft;

use crate::app::{App, AppError};
use crate::host::capacity::{self, Readings};

impl App {
    /// Each limit on more local guests, read now.
    pub(crate) fn capacity_left(&self) -> Result<CapacityLeft, AppError> {
        let records = self.store.list_instances()?;
        let guests_running = records
            .iter()
            .filter(|r| r.state == InstanceState::Running && self.runs_here(r))
            .count() as u64;
        let plan = self.network.plan();
        let held = self.addresses_held()? as u64;
        let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
        let readings = Readings {
            guests_running,
            addresses: (capacity::usable_ipv4(plan.ipv4.prefix), held),
            inotify_max_user_instances: capacity::read_u64(
                "/proc/sys/fs/inotify/max_user_instances",
            ),
            memory: (
                super::meminfo_bytes(&meminfo, "MemTotal:"),
                super::meminfo_bytes(&meminfo, "MemAvailable:"),
            ),
            pids: capacity::read_pids(),
        };
        Ok(capacity::compute(&readings))
    }

    /// Refuses (409, naming the limit and what raises it) one more guest of `record`'s
    /// backend when the host has no room: `new_address` for a create (counted for every
    /// backend that takes Berth's addresses), `starting` for a start (counted for guests that
    /// run on this host).
    pub(crate) fn check_host_room(
        &self,
        record: &InstanceRecord,
        new_address: bool,
        starting: bool,
    ) -> Result<(), AppError> {
        let new_address = new_address && self.capabilities(&record.backend).network.takes_address();
        let starting = starting && self.runs_here(record);
        if !new_address && !starting {
            return Ok(());
        }
        let capacity = self.capacity_left()?;
        capacity::check_room(&capacity, new_address, starting).map_err(|reason| {
            tracing::warn!(instance = %record.name, %reason, "launch refused");
            AppError::Conflict(format!("cannot launch {}: {reason}", record.name))
        })
    }

    /// Whether `record`'s guest really runs on this host (not remote, not simulated).
    pub(crate) fn runs_here(&self, record: &InstanceRecord) -> bool {
        let caps = self.capabilities(&record.backend);
        caps.placement == Placement::Host && caps.metrics == MetricsSource::Collector
    }
}
