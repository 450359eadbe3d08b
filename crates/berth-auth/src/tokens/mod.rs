//! API tokens for scripts and the CLI: `berth_<id>_<secret>`, where `id` is 32 hex digits and
//! `secret` 32 random bytes in base64url. Shown once; only the secret's SHA-256 is kept (the
//! secret has 256 bits of entropy, so a slow hash adds nothing), compared in constant time.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use berth_types::FieldError;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{Scope, Secret};

mod store;
#[cfg(test)]
mod tests;

/// Every API token starts with this.
pub const PREFIX: &str = "berth_";

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("malformed API token; expected berth_<id>_<secret> as shown when it was created")]
    Malformed,
    #[error("unknown or revoked API token")]
    Invalid,
    #[error("API token expired")]
    Expired,
    #[error(transparent)]
    Field(#[from] FieldError),
    #[error("a token named {0:?} exists already")]
    Taken(String),
    #[error("no such token")]
    NotFound,
    #[error("database")]
    Sqlite(#[from] rusqlite::Error),
    #[error("stored value {value:?} in {column} is not valid")]
    Corrupt { column: &'static str, value: String },
}

/// A token as listed: everything but the secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ApiToken {
    pub id: Uuid,
    pub user_id: Uuid,
    pub name: String,
    pub scope: Scope,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
}

/// A new token and its one-time secret string.
#[derive(Debug, Clone)]
pub struct CreatedToken {
    pub token: ApiToken,
    /// `berth_<id>_<secret>`: show it once.
    pub secret: Secret,
}

/// Checks a token name: 1–64 printable characters.
pub fn validate_token_name(name: &str) -> Result<(), FieldError> {
    let length = name.chars().count();
    if length == 0 || length > 64 || name.trim() != name {
        return Err(FieldError::new(
            "name",
            "give 1-64 characters without leading or trailing spaces",
        ));
    }
    if name.chars().any(char::is_control) {
        return Err(FieldError::new("name", "contains a control character"));
    }
    Ok(())
}

/// The id and secret bytes of a token string, or `Malformed`.
pub(crate) fn parse(token: &str) -> Result<(Uuid, [u8; 32]), TokenError> {
    let rest = token
        .trim()
        .strip_prefix(PREFIX)
        .ok_or(TokenError::Malformed)?;
    let (id, secret) = rest.split_once('_').ok_or(TokenError::Malformed)?;
    if id.len() != 32 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(TokenError::Malformed);
    }
    let id = Uuid::try_parse(id).map_err(|_| TokenError::Malformed)?;
    let secret = URL_SAFE_NO_PAD
        .decode(secret)
        .map_err(|_| TokenError::Malformed)?;
    let secret = <[u8; 32]>::try_from(secret.as_slice()).map_err(|_| TokenError::Malformed)?;
    Ok((id, secret))
}

/// The token string for an id and secret.
pub(crate) fn format(id: Uuid, secret: &[u8; 32]) -> Secret {
    Secret::new(format!(
        "{PREFIX}{}_{}",
        id.simple(),
        URL_SAFE_NO_PAD.encode(secret)
    ))
}

/// Whether `bearer` looks like an API token (as opposed to a session JWT).
pub fn is_api_token(bearer: &str) -> bool {
    bearer.trim().starts_with(PREFIX)
}
