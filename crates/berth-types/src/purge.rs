//! Purging old history on an admin's word (`POST /operations/purge`, `POST /audit/purge`):
//! the request's cut-off, checked, and the answer.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::FieldError;

/// `POST /operations/purge` and `POST /audit/purge`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PurgeRequest {
    /// RFC 3339 time (`2026-11-01T00:00:00Z`): what is older goes.
    pub before: String,
}

impl PurgeRequest {
    /// The cut-off; a 400 naming `before` when it is missing or not RFC 3339.
    pub fn cutoff(&self) -> Result<DateTime<Utc>, FieldError> {
        if self.before.trim().is_empty() {
            return Err(FieldError::new(
                "before",
                "is required: an RFC 3339 time such as 2026-11-01T00:00:00Z; what is older is purged",
            ));
        }
        DateTime::parse_from_rfc3339(self.before.trim())
            .map(|at| at.with_timezone(&Utc))
            .map_err(|e| {
                FieldError::new(
                    "before",
                    format!(
                        "{:?} is not an RFC 3339 time ({e}); give one such as 2026-11-01T00:00:00Z",
                        self.before
                    ),
                )
            })
    }
}

/// What a purge removed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct PurgeResult {
    /// How many rows were deleted.
    pub removed: u64,
    /// The cut-off used.
    pub before: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cutoff_is_rfc3339_and_errors_name_before() {
        let ok = PurgeRequest {
            before: "2026-11-01T01:00:00+01:00".into(),
        };
        assert_eq!(
            ok.cutoff().map(|t| t.to_rfc3339()),
            Ok("2026-11-01T00:00:00+00:00".into())
        );
        for bad in ["", "yesterday", "2026-11-01"] {
            let err = PurgeRequest { before: bad.into() }.cutoff();
            assert_eq!(err.map_err(|e| e.field), Err("before".into()), "{bad}");
        }
    }
}
