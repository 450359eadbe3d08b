//! Failpoints: named places in operations where tests make a step fail or hang, so every
//! step's undo and the crash recovery can be exercised. Set with `BERTH_FAILPOINTS`, e.g.
//! `instance_create.clone=error,instance_create.start=pause`.

use std::collections::HashMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailAction {
    /// The step fails with an injected error.
    Error,
    /// The step hangs forever (until the daemon is killed).
    Pause,
}

#[derive(Debug, Default, Clone)]
pub struct Failpoints(HashMap<String, FailAction>);

impl Failpoints {
    /// Parses `point=error|pause` pairs separated by commas; unknown actions are ignored with
    /// a warning so a typo never breaks a production daemon.
    pub fn parse(spec: &str) -> Self {
        let mut points = HashMap::new();
        for pair in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            match pair.split_once('=') {
                Some((point, "error")) => {
                    points.insert(point.to_owned(), FailAction::Error);
                }
                Some((point, "pause")) => {
                    points.insert(point.to_owned(), FailAction::Pause);
                }
                _ => tracing::warn!(failpoint = pair, "ignoring malformed failpoint"),
            }
        }
        Self(points)
    }

    pub fn from_env() -> Self {
        std::env::var("BERTH_FAILPOINTS")
            .map(|spec| Self::parse(&spec))
            .unwrap_or_default()
    }

    pub fn get(&self, point: &str) -> Option<FailAction> {
        self.0.get(point).copied()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}
