//! Errors of the app layer, each mapping to one HTTP status and error code.

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
    #[error("{0}")]
    Internal(String),
}

impl AppError {
    pub fn code(&self) -> &'static str {
        match self {
            Self::NotFound(_) => "not_found",
            Self::Invalid(_) => "invalid",
            Self::Conflict(_) => "conflict",
            Self::Unavailable(_) => "unavailable",
            Self::Internal(_) => "internal",
        }
    }

    pub fn field(&self) -> Option<&str> {
        match self {
            Self::Invalid(e) => Some(&e.field),
            _ => None,
        }
    }

    pub fn internal(context: &str, err: impl std::fmt::Display) -> Self {
        Self::Internal(format!("{context}: {err}"))
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

pub use berth_types::error_chain;
