//! The event bus behind `GET /api/v1/events`: operations, lifecycle changes and metrics samples
//! are published here and fanned out to every subscriber whose filter and rights they pass.
//!
//! Each subscriber has its own bounded buffer, filled with `try_send`: publishing never waits,
//! so a subscriber that stops reading (a stuck WebSocket client) costs only its own buffer.
//!
//! Who asked for a change (the lifecycle event's `actor`) travels as a task-local set by the
//! API guard around each request and carried into the operations it starts; work berthd does
//! by itself (autostart, schedules) has the actor `berthd`.

mod bus;

use berth_auth::Principal;
use berth_types::OperationKind;
use berth_types::events::{EventFilter, EventsQuery, LifecycleAction};

pub use bus::{EventBus, Published, SUBSCRIBER_BUFFER, Subscription, visible};

/// The actor of things berthd does by itself.
pub const DAEMON_ACTOR: &str = "berthd";

tokio::task_local! {
    static ACTOR: String;
}

/// Runs `work` with `actor` as the one asking, for the lifecycle events it publishes.
pub async fn acting_as<F: Future>(actor: String, work: F) -> F::Output {
    ACTOR.scope(actor, work).await
}

/// Who is asking in the current task: the caller of the request, or `berthd`.
pub fn actor() -> String {
    ACTOR
        .try_with(Clone::clone)
        .unwrap_or_else(|_| DAEMON_ACTOR.to_owned())
}

/// Event streams one (non-admin) user may hold open at once: a bound on what a runaway client
/// or a hostile user can make the daemon buffer.
pub const MAX_STREAMS_PER_USER: usize = 64;

/// How often open streams' credentials are re-checked for expiry (changes made through the
/// API — logout, token revocation, role changes — are applied at once).
const RECHECK_EVERY: std::time::Duration = std::time::Duration::from_secs(60);

impl super::App {
    /// Applies the current state of every subscriber's credential to the event bus.
    pub(crate) fn recheck_event_viewers(&self) {
        self.events
            .revalidate(|viewer| match self.auth.recheck(viewer) {
                Ok(now) => now,
                Err(e) => {
                    // Keep the stream through a passing storage error.
                    tracing::warn!(user = %viewer.username, error = %e, "cannot re-check an event subscriber");
                    Some(viewer.clone())
                }
            });
    }

    /// Re-checks subscribers now and then, so expired sessions and tokens end their streams.
    pub(crate) fn spawn_event_viewer_recheck(self: &std::sync::Arc<Self>) {
        let app = std::sync::Arc::downgrade(self);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(RECHECK_EVERY).await;
                let Some(app) = app.upgrade() else { return };
                if app.events.subscriber_count() > 0 {
                    app.recheck_event_viewers();
                }
            }
        });
    }

    /// `GET /events`: subscribes `caller` to what `query` selects. An instance filter on an
    /// instance they cannot see (or that does not exist yet) simply yields nothing.
    pub fn subscribe_events(
        &self,
        caller: Principal,
        query: &EventsQuery,
    ) -> Result<Subscription, super::AppError> {
        let filter = EventFilter::parse(query)?;
        tracing::debug!(user = %caller.username, ?filter, "event subscriber");
        if caller.is_admin() {
            return Ok(self.events.subscribe(caller, filter));
        }
        let username = caller.username.clone();
        self.events
            .subscribe_at_most(caller, filter, MAX_STREAMS_PER_USER)
            .map_err(|open| {
                super::AppError::Conflict(format!(
                    "{username} already has {open} event streams open (the most a user may); close one first"
                ))
            })
    }
}

/// The lifecycle action an operation of `kind` stands for when it succeeds.
pub fn lifecycle_of(kind: OperationKind) -> Option<LifecycleAction> {
    Some(match kind {
        OperationKind::InstanceCreate | OperationKind::InstanceImport => {
            LifecycleAction::InstanceCreated
        }
        OperationKind::InstanceStart => LifecycleAction::InstanceStarted,
        OperationKind::InstanceStop => LifecycleAction::InstanceStopped,
        OperationKind::InstanceRestart => LifecycleAction::InstanceRestarted,
        OperationKind::InstanceSuspend => LifecycleAction::InstanceSuspended,
        OperationKind::InstanceResume => LifecycleAction::InstanceResumed,
        OperationKind::InstanceDelete => LifecycleAction::InstanceDeleted,
        OperationKind::InstanceSnapshot => LifecycleAction::SnapshotCreated,
        OperationKind::InstanceRestore => LifecycleAction::SnapshotRestored,
        OperationKind::InstanceBackup => LifecycleAction::BackupCreated,
        // An ephemeral `berth run` instance, and images: no instance lifecycle to tell.
        OperationKind::InstanceRun | OperationKind::ImageBuild | OperationKind::ImageDelete => {
            return None;
        }
    })
}
