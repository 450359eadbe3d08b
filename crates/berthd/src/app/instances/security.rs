//! Who a guest's root is on the host: the instance's `privileged` and `nesting` flags, its id
//! range (allocated at create, or at the first start of an instance that has none: imports,
//! conversions), and the [`GuestSecurity`] a backend is given at start.
//!
//! Guests are unprivileged by default. Only an admin makes one privileged (or changes a
//! privileged one); a tenant can never give its own guest the host's root. The flags change
//! only while the instance is stopped (409 otherwise): they decide how it is booted.
//! Converting privileged → unprivileged changes no file: the rootfs keeps guest ids on disk
//! and is mounted through an idmapped mount, so only a range is allocated.

use std::sync::atomic::{AtomicBool, Ordering};

use berth_runtime::{GuestSecurity, Placement};
use berth_store::InstanceRecord;
use berth_types::api::PatchInstanceRequest;
use berth_types::{IdRange, InstanceState};

use crate::app::access;
use crate::app::error::HostError;
use crate::app::{App, AppError, Principal};

/// Set once lxcfs was found missing or broken, so the log says so once, not at every start.
static LXCFS_WARNED: AtomicBool = AtomicBool::new(false);

impl App {
    /// Whether `record` runs on this host, where Berth gives it a user namespace (a remote
    /// backend keeps its guests' privileges itself).
    pub(crate) fn is_host_guest(&self, record: &InstanceRecord) -> bool {
        self.capabilities(&record.backend).placement == Placement::Host
    }

    /// The range `record` boots with: `None` when privileged (or not on this host); else the
    /// one it holds, allocated now if it has none yet.
    pub(crate) fn idmap_for_start(
        &self,
        record: &InstanceRecord,
    ) -> Result<Option<IdRange>, AppError> {
        if record.privileged || !self.is_host_guest(record) {
            return Ok(None);
        }
        self.allocate_idmap(&record.name).map(Some)
    }

    /// What the backend is told about `record`'s isolation, lxcfs included (the user
    /// namespace file is added when the network is attached).
    pub(crate) async fn guest_security(
        &self,
        record: &InstanceRecord,
    ) -> Result<GuestSecurity, HostError> {
        let idmap = self
            .idmap_for_start(record)
            .map_err(|e| HostError::message("allocating the id range", e.to_string()))?;
        let lxcfs = match idmap {
            Some(_) if self.config.security.lxcfs => self.lxcfs_for_guest(record).await,
            _ => None,
        };
        Ok(GuestSecurity {
            idmap,
            userns: None,
            nesting: record.nesting,
            lxcfs,
        })
    }

    /// lxcfs's mount point, started if needed; `None` (logged once) when lxcfs cannot run:
    /// the guest then starts with the host's view of `/proc`.
    async fn lxcfs_for_guest(&self, record: &InstanceRecord) -> Option<std::path::PathBuf> {
        match self.ensure_lxcfs().await {
            Ok(instance) => {
                tracing::debug!(instance = %record.name, lxcfs = instance, "lxcfs");
                Some(self.lxcfs().mount_point())
            }
            Err(e) => {
                if !LXCFS_WARNED.swap(true, Ordering::Relaxed) {
                    tracing::warn!(instance = %record.name, error = %e,
                        "lxcfs is unavailable: guests start with the host's /proc view \
                         (install the lxcfs package)");
                }
                None
            }
        }
    }

    /// Applies `request`'s `privileged` and `nesting` to `record` (not yet saved): admins
    /// only for anything about privilege, and only while stopped. Nothing is changed when
    /// refused.
    pub(crate) fn patch_security(
        &self,
        caller: &Principal,
        record: &mut InstanceRecord,
        request: &PatchInstanceRequest,
    ) -> Result<(), AppError> {
        let privileged = request.privileged.filter(|p| *p != record.privileged);
        let nesting = request.nesting.filter(|n| *n != record.nesting);
        if privileged.is_none() && nesting.is_none() {
            return Ok(());
        }
        let field = if privileged.is_some() {
            "privileged"
        } else {
            "nesting"
        };
        if privileged.is_some() || record.privileged {
            access::privileged(caller, field)?;
        }
        if !matches!(record.state, InstanceState::Stopped) {
            return Err(AppError::Conflict(format!(
                "{field}: instance {} is {}; stop it first, then change {field}",
                record.name,
                record.state.as_str()
            )));
        }
        if !self.is_host_guest(record) && privileged.is_some() {
            return Err(berth_types::FieldError::new(
                field,
                format!(
                    "backend {} keeps its guests' privileges itself; change it there",
                    record.backend
                ),
            )
            .into());
        }
        match privileged {
            // Files stay as they are (guest ids on disk); the guest only needs a range.
            Some(false) => {
                let range = self.allocate_idmap(&record.name)?;
                tracing::info!(instance = %record.name, range = %range, "made unprivileged");
            }
            Some(true) => {
                self.store.release_idmap(&record.name)?;
                tracing::warn!(instance = %record.name, by = %caller.actor(), "made privileged");
            }
            None => {}
        }
        if let Some(privileged) = privileged {
            record.privileged = privileged;
        }
        if let Some(nesting) = nesting {
            record.nesting = nesting;
        }
        Ok(())
    }
}
