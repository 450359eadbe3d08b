//! The app layer: what berthd does, independent of HTTP. Handlers and tests call these methods;
//! long actions become operations (see `operation`).

mod apps;
pub mod auth;
pub mod backups;
mod capacity;
pub mod console;
pub mod error;
pub mod events;
pub mod failpoint;
pub mod files;
mod images;
pub mod instances;
pub mod metrics;
pub mod network;
pub mod operation;
mod operations;
mod quota;
mod recovery;
mod remote;
mod settings;
pub mod snapshots;
mod system;
pub mod undo;

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use berth_runtime::{AnyRuntime, Runtime};
use berth_store::Store;
use berth_types::{InstanceName, OperationKind};
use uuid::Uuid;

pub use berth_auth::Principal;
pub use error::AppError;
use failpoint::Failpoints;
use operation::{OpError, OpHandle, OperationTracker};

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
    runtimes: BTreeMap<String, AnyRuntime>,
    images: images::ImageService,
    network: network::HostNetwork,
    /// Held while a forward is checked against the others and stored.
    forwards_lock: tokio::sync::Mutex<()>,
    operations: OperationTracker,
    /// Instances with an operation under way, and which.
    busy: Mutex<HashMap<InstanceName, Uuid>>,
}

/// Frees an instance's busy mark when its operation ends.
struct BusyGuard {
    app: Arc<App>,
    name: InstanceName,
}

impl Drop for BusyGuard {
    fn drop(&mut self) {
        self.app.busy_lock().remove(&self.name);
    }
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
        let store = Arc::new(Store::open(&config.database_path())?);
        let auth = Arc::new(auth::open(&config)?);
        let metrics = metrics::MetricsService::open(&config)?;
        let images = images::ImageService::new(&config).await?;
        let runtimes = Self::backends(&config)?;
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
            runtimes,
            images,
            network,
            forwards_lock: tokio::sync::Mutex::default(),
            operations: OperationTracker::new(store.clone(), failpoints, events),
            busy: Mutex::default(),
        });
        app.recover().await?;
        app.rebuild_quota_ledger()?;
        app.spawn_auth_pruner();
        app.spawn_event_viewer_recheck();
        app.spawn_snapshot_scheduler();
        app.spawn_metrics_collector();
        Ok(app)
    }

    fn backends(config: &Config) -> Result<BTreeMap<String, AnyRuntime>, AppError> {
        let mut runtimes = BTreeMap::new();
        let shim =
            std::env::current_exe().unwrap_or_else(|_| PathBuf::from("/usr/local/bin/berthd"));
        runtimes.insert(
            "builtin".to_owned(),
            AnyRuntime::Builtin(berth_runtime::builtin::BuiltinRuntime::new(
                berth_runtime::builtin::BuiltinConfig {
                    state_root: config.runtime_dir.join("runtime"),
                    shim_command: vec![shim.clone().into_os_string(), "shim".into()],
                },
            )),
        );
        let tool = |backend: &str| berth_runtime::builtin::BuiltinConfig {
            state_root: config.runtime_dir.join(backend),
            shim_command: vec![shim.clone().into_os_string(), "shim".into()],
        };
        runtimes.insert(
            "nspawn".to_owned(),
            AnyRuntime::Nspawn(berth_runtime::nspawn::NspawnRuntime::new(tool("nspawn"))),
        );
        runtimes.insert(
            "lxc".to_owned(),
            AnyRuntime::Lxc(berth_runtime::lxc::LxcRuntime::new(
                config.runtime_dir.join("lxc"),
            )),
        );
        let oci = berth_runtime::oci::OciTool::parse(&config.oci.runtime).unwrap_or_default();
        runtimes.insert(
            "oci".to_owned(),
            AnyRuntime::Oci(berth_runtime::oci::OciRuntime::new(tool("oci"), oci)),
        );
        if config.testing.sim_backend {
            runtimes.insert(
                "sim".to_owned(),
                AnyRuntime::Sim(berth_runtime::sim::SimRuntime::new()),
            );
        }
        if let Some(proxmox) = &config.proxmox {
            let settings = proxmox.settings().map_err(AppError::Internal)?;
            let runtime = berth_runtime::proxmox::ProxmoxRuntime::new(settings)
                .map_err(|e| AppError::Internal(e.to_string()))?;
            runtimes.insert("proxmox".to_owned(), AnyRuntime::Proxmox(Box::new(runtime)));
        }
        Ok(runtimes)
    }

    /// The backend called `name`, or why it cannot be used.
    pub fn runtime(&self, name: &str) -> Result<&AnyRuntime, AppError> {
        let runtime = self.runtimes.get(name).ok_or_else(|| {
            let known: Vec<&str> = self.runtimes.keys().map(String::as_str).collect();
            AppError::Invalid(berth_types::FieldError::new(
                "backend",
                format!(
                    "unknown backend {name:?}; this berthd offers: {}",
                    known.join(", ")
                ),
            ))
        })?;
        runtime.check_usable().map_err(|reason| {
            AppError::Invalid(berth_types::FieldError::new(
                "backend",
                format!("backend {name} is not usable here: {reason}"),
            ))
        })?;
        Ok(runtime)
    }

    pub fn runtimes(&self) -> impl Iterator<Item = (&String, &AnyRuntime)> {
        self.runtimes.iter()
    }

    /// Whether instances on `backend` live in a local root filesystem Berth clones.
    fn uses_local_rootfs(backend: &str) -> bool {
        backend != "sim" && !remote::is_remote(backend)
    }

    pub fn instance_dir(&self, name: &InstanceName) -> PathBuf {
        self.config.data_dir.join("instances").join(name.as_str())
    }

    fn busy_lock(&self) -> std::sync::MutexGuard<'_, HashMap<InstanceName, Uuid>> {
        self.busy
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Starts an operation in the background and returns its first view. It belongs to `owner`
    /// (the owner of the instance it works on). `target` is marked busy for its duration when
    /// it is an instance; a second operation on it is refused.
    #[allow(
        clippy::too_many_arguments,
        reason = "one call site per operation kind; a builder would only hide them"
    )]
    pub(crate) fn spawn_operation<F, Fut>(
        self: &Arc<Self>,
        owner: &str,
        kind: OperationKind,
        target: &str,
        busy: Option<&InstanceName>,
        steps: &[&str],
        request: serde_json::Value,
        work: F,
    ) -> Result<berth_types::Operation, AppError>
    where
        F: FnOnce(Arc<App>, OpHandle) -> Fut + Send + 'static,
        Fut: Future<Output = Result<(), OpError>> + Send + 'static,
    {
        // Check and mark in one critical section, so two requests cannot both pass.
        let guard = match busy {
            Some(name) => {
                let mut busy = self.busy_lock();
                if let Some(other) = busy.get(name) {
                    return Err(AppError::Conflict(format!(
                        "instance {name} is busy with operation {other}; wait for it to finish"
                    )));
                }
                busy.insert(name.clone(), Uuid::nil());
                Some(BusyGuard {
                    app: self.clone(),
                    name: name.clone(),
                })
            }
            None => None,
        };
        let op = self.operations.begin(kind, target, owner, steps, request);
        if let Some(guard) = &guard {
            self.busy_lock().insert(guard.name.clone(), op.id());
        }
        let first_view = op.snapshot();
        let app = self.clone();
        let actor = events::actor();
        tokio::spawn(events::acting_as(actor, async move {
            let _guard = guard;
            let id = op.id();
            let result = work(app.clone(), op.clone()).await;
            if let Err(err) = &result {
                tracing::warn!(operation = %id, error = %err, "operation failed; unwinding");
                app.unwind(&op).await;
            }
            op.finish(&result);
            // After the operation's own end, so a client sees it succeed, then what changed.
            if result.is_ok() {
                app.publish_lifecycle_of(&op.snapshot(), &op.request());
            }
            app.operations.forget(id);
        }));
        Ok(first_view)
    }

    /// The lifecycle event a successful operation stands for, if any: the instance's state
    /// afterwards, and the snapshot it made or restored.
    fn publish_lifecycle_of(&self, op: &berth_types::Operation, request: &serde_json::Value) {
        let Some(action) = events::lifecycle_of(op.kind) else {
            return;
        };
        let state = match action {
            berth_types::events::LifecycleAction::InstanceDeleted => None,
            _ => InstanceName::parse(&op.target)
                .ok()
                .and_then(|name| self.store.get_instance(&name).ok().flatten())
                .map(|record| record.state),
        };
        let object = match op.kind {
            OperationKind::InstanceSnapshot => request["name"].as_str(),
            OperationKind::InstanceRestore => request["snapshot"].as_str(),
            _ => None,
        };
        self.events.lifecycle(
            &op.target,
            &op.owner,
            action,
            state,
            object.map(str::to_owned),
        );
    }

    /// Runs an operation's undo log, newest first, marking each step undone.
    async fn unwind(&self, op: &OpHandle) {
        for (step, action) in op.take_undo() {
            if let Err(err) = self.undo(&action).await {
                tracing::error!(operation = %op.id(), ?action, %err, "undo failed");
            }
            op.mark_undone(step);
        }
    }
}

/// Makes `dir` reachable by its owner (root) only.
pub(crate) fn owner_only(dir: &std::path::Path) -> Result<(), AppError> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
        .map_err(|e| AppError::internal(&format!("chmod 0700 {}", dir.display()), e))
}
