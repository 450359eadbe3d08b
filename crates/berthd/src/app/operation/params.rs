//! What an operation persists beside its public view: its request and its undo log, keyed by
//! step name.

use berth_types::OperationStep;
use serde::{Deserialize, Serialize};

use crate::app::undo::UndoAction;

/// What an operation persists beside its public view: its request and its undo log.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct OpParams {
    pub request: serde_json::Value,
    /// (step name, action), in the order registered.
    pub undo: Vec<(String, UndoAction)>,
}

impl OpParams {
    /// The params persisted with an operation of `steps`. Operations a berthd before named
    /// steps persisted keep their undo under the step's position; it is mapped to its name.
    pub fn read(params: &serde_json::Value, steps: &[OperationStep]) -> Self {
        if let Ok(params) = serde_json::from_value(params.clone()) {
            return params;
        }
        #[derive(Deserialize)]
        struct Positional {
            request: serde_json::Value,
            undo: Vec<(usize, UndoAction)>,
        }
        match serde_json::from_value::<Positional>(params.clone()) {
            Ok(old) => Self {
                request: old.request,
                undo: old
                    .undo
                    .into_iter()
                    .map(|(at, action)| {
                        let step = steps.get(at).map(|s| s.name.clone()).unwrap_or_default();
                        (step, action)
                    })
                    .collect(),
            },
            Err(err) => {
                tracing::error!(error = %err, "unreadable operation params; nothing to undo");
                Self::default()
            }
        }
    }
}
