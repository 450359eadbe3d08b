//! Removing half-made trees (a failed or cancelled build, copy or import) and discarded ones:
//! on a thread of its own, retried while killed children finish exiting, never through a mount.

use std::path::PathBuf;
use std::time::Duration;

use tracing::warn;

use crate::tree::remove_tree;

const ATTEMPTS: u32 = 20;
const PAUSE: Duration = Duration::from_millis(250);

/// Removes `path` on a background thread; `what` names it in the log if that fails.
pub fn remove_in_background(path: PathBuf, what: &'static str) {
    let spawned = std::thread::Builder::new()
        .name("berth-image-cleanup".into())
        .spawn(move || {
            for attempt in 1..=ATTEMPTS {
                match remove_tree(&path) {
                    Ok(()) => return,
                    Err(e) if attempt == ATTEMPTS => {
                        warn!(path = %path.display(), error = %e, "cannot remove {what}");
                    }
                    Err(_) => std::thread::sleep(PAUSE),
                }
            }
        });
    if let Err(e) = spawned {
        warn!(error = %e, "cannot start removing {what}; the next start-up sweeps it");
    }
}

/// Removes a tree when dropped unless disarmed: what a failed or cancelled (dropped) operation
/// was building.
pub struct RemoveOnDrop {
    path: Option<PathBuf>,
    what: &'static str,
}

impl RemoveOnDrop {
    pub fn new(path: PathBuf, what: &'static str) -> Self {
        Self {
            path: Some(path),
            what,
        }
    }

    /// The operation succeeded: keep the tree.
    pub fn disarm(mut self) {
        self.path = None;
    }
}

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        if let Some(path) = self.path.take() {
            remove_in_background(path, self.what);
        }
    }
}
