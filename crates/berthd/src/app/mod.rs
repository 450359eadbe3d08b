//! The app layer: what berthd does, independent of HTTP. Handlers and tests call these methods;
//! long actions become operations (see `operation`).

pub mod access;
mod apps;
pub mod auth;
pub mod backends;
pub mod backups;
mod capacity;
pub mod console;
pub mod error;
pub mod events;
pub mod failpoint;
pub mod files;
mod follow;
mod guestwatch;
mod idmap;
mod image_refresh;
mod image_servers;
mod images;
pub mod instances;
mod leftovers;
mod lxcfs;
pub mod metrics;
pub mod network;
pub mod operation;
mod operations;
mod periodic;
mod purge;
mod quota;
mod recovery;
mod remote;
mod settings;
pub mod snapshots;
mod spawn;
pub mod step_catalog;
pub mod steps;
mod storage;
mod system;
pub mod undo;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use berth_runtime::{AnyRuntime, Capabilities};
use berth_store::Store;
use berth_types::{BackendName, InstanceName};
use uuid::Uuid;

pub use berth_auth::Principal;
pub use error::AppError;
use failpoint::Failpoints;
use operation::OperationTracker;
pub(crate) use spawn::{BusyGuard, OperationSpec};

use crate::config::Config;

pub struct App {
    pub config: Config,
    pub store: Arc<Store>,
    /// Accounts, sessions, tokens, quotas and the audit log.
    pub auth: Arc<berth_auth::Auth>,
    /// Time series, the last collector tick, alert rules and events.
    pub metrics: metrics::MetricsService,
    /// Binds CSRF tokens to browser sessions.
    pub csrf: auth::CsrfKey,
    /// Operation, lifecycle and metrics events for `GET /events`.
    pub events: Arc<events::EventBus>,
    /// The budget of open WebSockets (consoles, event streams), in all and per account.
    pub websockets: crate::limits::WebSocketLimiter,
    /// The host-wide settings; the store holds them, this the current value.
    settings: tokio::sync::watch::Sender<berth_types::settings::Settings>,
    backends: backends::Backends,
    /// Application containers (`berth run oci:ALIAS`).
    apps: apps::AppRunner,
    images: images::ImageService,
    /// Instances' disks: the pool, clones, limits.
    storage: storage::InstanceStorage,
    network: network::HostNetwork,
    /// Held while a forward is checked against the others and stored.
    forwards_lock: tokio::sync::Mutex<()>,
    operations: OperationTracker,
    /// Instances with an operation under way, and which.
    busy: Mutex<HashMap<InstanceName, Uuid>>,
    /// Running guests' inits, watched so a guest that dies by itself is seen at once.
    guestwatch: guestwatch::GuestWatch,
}

impl App {
    /// Opens the store, sets up storage and backends, and recovers from the last run.
    pub async fn start(config: Config, failpoints: Failpoints) -> Result<Arc<Self>, AppError> {
        for dir in [
            &config.data_dir,
            &config.runtime_dir,
            &config.data_dir.join("instances"),
        ] {
            std::fs::create_dir_all(dir)
                .map_err(|e| AppError::internal(&format!("creating {}", dir.display()), e))?;
        }
        // Guest root filesystems (and cached images) hold setuid-root programs: no other host
        // user may reach them, or they could run those programs as root on the host.
        owner_only(&config.data_dir)?;
        Self::check_idmap_pool(&config)?;
        crate::host::sysctl::apply(&config.host.wanted(), config.host.raise_limits);
        let store = Arc::new(Store::open(&config.database_path())?);
        let auth = Arc::new(auth::open(&config)?);
        let metrics = metrics::MetricsService::open(&config)?;
        let images = images::ImageService::new(&config).await?;
        let storage = storage::InstanceStorage::open(&config).await?;
        let backends = backends::Backends::new(&config)?;
        let apps = apps::AppRunner::new(&config);
        let network = network::HostNetwork::new(&config.network)?;
        network.check_host_overlap().await?;
        let events = Arc::new(events::EventBus::new());
        let settings = tokio::sync::watch::Sender::new(settings::load(
            &store,
            u32::try_from(metrics.interval()).unwrap_or(10),
        )?);
        let websockets = crate::limits::WebSocketLimiter::new(
            config.server.max_websockets,
            config.server.max_websockets_per_user,
        );
        let app = Arc::new(Self {
            config,
            store: store.clone(),
            auth,
            metrics,
            csrf: auth::CsrfKey::random(),
            events: events.clone(),
            websockets,
            settings,
            backends,
            apps,
            images,
            storage,
            network,
            forwards_lock: tokio::sync::Mutex::default(),
            operations: OperationTracker::new(store.clone(), failpoints, events),
            busy: Mutex::default(),
            guestwatch: guestwatch::GuestWatch::default(),
        });
        app.enable_guest_watch();
        app.recover().await?;
        app.watch_running_guests().await;
        app.rebuild_quota_ledger()?;
        app.spawn_auth_pruner();
        app.spawn_event_viewer_recheck();
        app.spawn_snapshot_scheduler();
        app.spawn_image_refresher();
        app.spawn_metrics_collector();
        app.spawn_remote_followers();
        Ok(app)
    }

    /// The backend called `name`, or why it cannot be used (400 naming `backend`).
    pub fn runtime(&self, name: &BackendName) -> Result<&AnyRuntime, AppError> {
        self.backends.get(name)
    }

    /// What backend `name` can do.
    pub(crate) fn capabilities(&self, name: &BackendName) -> Capabilities {
        self.backends.capabilities(name)
    }

    pub fn backends(&self) -> &backends::Backends {
        &self.backends
    }

    pub fn instance_dir(&self, name: &InstanceName) -> PathBuf {
        self.config.data_dir.join("instances").join(name.as_str())
    }

    pub(crate) fn busy_lock(&self) -> std::sync::MutexGuard<'_, HashMap<InstanceName, Uuid>> {
        self.busy
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Makes `dir` reachable by its owner (root) only.
pub(crate) fn owner_only(dir: &std::path::Path) -> Result<(), AppError> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
        .map_err(|e| AppError::internal(&format!("chmod 0700 {}", dir.display()), e))
}
