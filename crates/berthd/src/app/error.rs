//! Errors of the app layer, each mapping to one HTTP status and error code.

use berth_runtime::RuntimeError;
use berth_types::FieldError;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("{0} not found")]
    NotFound(String),
    #[error(transparent)]
    Invalid(#[from] FieldError),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Unavailable(String),
    /// A remote backend (proxmox) does not answer: writes wait until it is back (503).
    #[error("{0}")]
    BackendUnavailable(String),
    #[error("{0}")]
    Internal(String),
    /// No credential, or a bad, expired or revoked one (401).
    #[error("{0}")]
    Unauthorized(String),
    /// Authenticated but not allowed (403).
    #[error("{0}")]
    Forbidden(String),
    /// A quota would be exceeded (403, naming the resource).
    #[error("{message}")]
    QuotaExceeded { field: String, message: String },
    /// The backend could do this once configured; the message names what to configure (501).
    #[error("{0}")]
    NotImplemented(String),
    /// Too many failed logins (429 with `Retry-After`).
    #[error(transparent)]
    RateLimited(berth_auth::RetryAfter),
}

impl AppError {
    pub fn code(&self) -> &'static str {
        match self {
            Self::NotFound(_) => "not_found",
            Self::Invalid(_) => "invalid",
            Self::Conflict(_) => "conflict",
            Self::Unavailable(_) => "unavailable",
            Self::BackendUnavailable(_) => "backend_unavailable",
            Self::Internal(_) => "internal",
            Self::Unauthorized(_) => "unauthorized",
            Self::Forbidden(_) => "forbidden",
            Self::QuotaExceeded { .. } => "quota_exceeded",
            Self::RateLimited(_) => "rate_limited",
            Self::NotImplemented(_) => "not_configured",
        }
    }

    pub fn field(&self) -> Option<&str> {
        match self {
            Self::Invalid(e) => Some(&e.field),
            Self::QuotaExceeded { field, .. } => Some(field),
            _ => None,
        }
    }

    pub fn internal(context: &str, err: impl std::fmt::Display) -> Self {
        Self::Internal(format!("{context}: {err}"))
    }

    /// A backend's error while doing `context`. The one place a backend's answer becomes a
    /// status: unreachable is 503 `backend_unavailable`, an error the backend answered with
    /// or a backend this host cannot use is 503 `unavailable`, a guest in the wrong state or
    /// a thing its backend does not do is 409, a thing it does once configured is 501 naming
    /// what to configure, the rest is the host's fault (500).
    pub fn runtime(context: &str, err: RuntimeError) -> Self {
        match err {
            RuntimeError::NotConfigured { .. } => Self::NotImplemented(err.to_string()),
            RuntimeError::Unreachable { .. } => Self::BackendUnavailable(err.to_string()),
            RuntimeError::Backend { .. } | RuntimeError::Unusable { .. } => {
                Self::Unavailable(error_chain(&err))
            }
            RuntimeError::NotRunning(_)
            | RuntimeError::AlreadyRunning(_)
            | RuntimeError::Unsupported { .. } => Self::Conflict(err.to_string()),
            other => Self::internal(context, error_chain(&other)),
        }
    }
}

/// What went wrong doing something on this host or asking a backend, with its cause kept
/// (not flattened into text): a backend's and the store's errors by type, so callers decide
/// what they mean (an operation's message, a 503, a 409); anything else with what was being
/// done and its source.
#[derive(Debug, thiserror::Error)]
pub enum HostError {
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
    #[error("store")]
    Store(#[from] berth_store::StoreError),
    #[error("{doing}")]
    Host {
        doing: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A value berthd stored and cannot use now (a corrupt row).
    #[error("{0}")]
    Corrupt(String),
}

impl HostError {
    /// `source` failed while berthd was `doing` something.
    pub fn host(
        doing: impl Into<String>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        Self::Host {
            doing: doing.into(),
            source: Box::new(source),
        }
    }

    /// A blocking task that did not finish (it panicked or was cancelled).
    pub fn task(source: tokio::task::JoinError) -> Self {
        Self::host("a background task", source)
    }

    /// `doing` failed with an error of a crate that reports a plain message.
    pub fn message(doing: impl Into<String>, message: impl Into<String>) -> Self {
        Self::host(doing, std::io::Error::other(message.into()))
    }
}

impl AppError {
    /// A host error while doing `context`: a backend's by `AppError::runtime`, the store's as
    /// the store's, the rest is the host's fault (500).
    pub fn host(context: &str, err: HostError) -> Self {
        match err {
            HostError::Runtime(err) => Self::runtime(context, err),
            HostError::Store(err) => err.into(),
            other => Self::internal(context, error_chain(&other)),
        }
    }
}

impl From<HostError> for AppError {
    fn from(err: HostError) -> Self {
        Self::host("host", err)
    }
}

/// A backend's error where the backend, not this host, is at fault (a remote read): 503,
/// `backend_unavailable` when it does not answer.
pub(crate) fn backend_failed(err: RuntimeError) -> AppError {
    match err {
        RuntimeError::Unreachable { .. } => AppError::runtime("backend", err),
        other => AppError::Unavailable(error_chain(&other)),
    }
}

impl From<RuntimeError> for AppError {
    fn from(err: RuntimeError) -> Self {
        Self::runtime("backend", err)
    }
}

impl From<berth_store::StoreError> for AppError {
    fn from(err: berth_store::StoreError) -> Self {
        match err {
            berth_store::StoreError::Conflict(what) => {
                Self::Conflict(format!("{what}; choose another name"))
            }
            other => Self::internal("store", error_chain(&other)),
        }
    }
}

impl From<berth_auth::Denied> for AppError {
    fn from(denied: berth_auth::Denied) -> Self {
        match denied {
            // Someone else's resource: as if it did not exist.
            berth_auth::Denied::Hidden => Self::NotFound("resource".into()),
            other => Self::Forbidden(other.to_string()),
        }
    }
}

impl From<berth_auth::AuthError> for AppError {
    fn from(err: berth_auth::AuthError) -> Self {
        use berth_auth::AuthError as E;
        match err {
            E::InvalidCredentials => Self::Unauthorized(err.to_string()),
            E::RateLimited(retry) => Self::RateLimited(retry),
            E::Token(e) => e.into(),
            E::Session(e) => e.into(),
            E::Denied(e) => e.into(),
            E::User(e) => e.into(),
            other => Self::internal("auth", error_chain(&other)),
        }
    }
}

impl From<berth_auth::UserError> for AppError {
    fn from(err: berth_auth::UserError) -> Self {
        use berth_auth::UserError as E;
        match err {
            E::Invalid(field) => Self::Invalid(field),
            E::Taken(name) => Self::Conflict(format!("username {name:?} is taken; choose another")),
            E::NotFound => Self::NotFound("user".into()),
            E::LastAdmin => Self::Conflict(err.to_string()),
            E::InvalidCredentials => Self::Unauthorized(err.to_string()),
            other => Self::internal("users", error_chain(&other)),
        }
    }
}

impl From<berth_auth::TokenError> for AppError {
    fn from(err: berth_auth::TokenError) -> Self {
        use berth_auth::TokenError as E;
        match err {
            E::Malformed | E::Invalid | E::Expired => Self::Unauthorized(err.to_string()),
            E::Field(field) => Self::Invalid(field),
            E::Taken(_) => Self::Conflict(format!("{err}; choose another name")),
            E::NotFound => Self::NotFound("token".into()),
            other => Self::internal("tokens", error_chain(&other)),
        }
    }
}

impl From<berth_auth::SessionError> for AppError {
    fn from(err: berth_auth::SessionError) -> Self {
        use berth_auth::SessionError as E;
        match err {
            E::InvalidToken | E::Expired | E::Revoked | E::InvalidRefresh | E::RefreshReused => {
                Self::Unauthorized(err.to_string())
            }
            E::User(e) => e.into(),
            other => Self::internal("sessions", error_chain(&other)),
        }
    }
}

impl From<berth_auth::QuotaError> for AppError {
    fn from(err: berth_auth::QuotaError) -> Self {
        use berth_auth::QuotaError as E;
        match &err {
            E::Exceeded { resource, .. } => Self::QuotaExceeded {
                field: quota_field(resource).into(),
                message: format!("{err}; free some or ask an admin to raise your quota"),
            },
            E::PortOutsideRange { .. } => Self::QuotaExceeded {
                field: "listen".into(),
                message: format!("{err}; choose a port inside it"),
            },
            _ => Self::internal("quota", error_chain(&err)),
        }
    }
}

/// The request field a quota resource corresponds to.
fn quota_field(resource: &str) -> &'static str {
    match resource {
        "cpu" => "limits.cpu",
        "memory" => "limits.memory",
        "disk" => "limits.disk",
        "snapshots" => "snapshots",
        "forwards" => "forwards",
        _ => "instances",
    }
}

impl From<berth_auth::AuditError> for AppError {
    fn from(err: berth_auth::AuditError) -> Self {
        Self::internal("audit log", error_chain(&err))
    }
}

impl From<berth_auth::DbError> for AppError {
    fn from(err: berth_auth::DbError) -> Self {
        Self::internal("auth database", error_chain(&err))
    }
}

impl From<berth_metrics::DbError> for AppError {
    fn from(err: berth_metrics::DbError) -> Self {
        Self::internal("metrics database", error_chain(&err))
    }
}

pub use berth_types::error_chain;
