//! Request and response bodies of the auth endpoints (`/auth`, `/users`, `/tokens`), with
//! their OpenAPI schemas.

use berth_types::FieldError;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::{ApiToken, Quota, Role, Scope, Usage, User, Via};

/// `POST /auth/login`.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    pub username: String,
    pub password: String,
}

/// `POST /auth/refresh`: the refresh token in the body, or the `berth_refresh` cookie.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    #[serde(default)]
    pub refresh_token: Option<String>,
}

/// A new session: both tokens are shown this once. The browser also gets them as HttpOnly
/// cookies, and sends `csrf_token` back in `X-CSRF-Token` on every state-changing request.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SessionResponse {
    pub user: User,
    pub access_token: String,
    pub access_expires_at: DateTime<Utc>,
    pub refresh_token: String,
    pub refresh_expires_at: DateTime<Utc>,
    pub csrf_token: String,
}

/// `GET /auth/me`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Me {
    pub user: User,
    /// What the credential used allows.
    pub scope: Scope,
    /// How the caller authenticated.
    #[schema(value_type = Object)]
    pub via: Via,
    /// What the user holds, to compare with `user.quota`.
    pub usage: Usage,
    /// For a browser session (cookie): the value to send in `X-CSRF-Token`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub csrf_token: Option<String>,
}

/// `POST /users`.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUserRequest {
    pub username: String,
    pub password: String,
    #[serde(default = "default_role")]
    pub role: Role,
    #[serde(default)]
    pub quota: Quota,
    /// Where alert notifications go.
    #[serde(default)]
    pub email: Option<String>,
}

fn default_role() -> Role {
    Role::User
}

/// `PATCH /users/{id}`: any of these.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PatchUserRequest {
    #[serde(default)]
    pub role: Option<Role>,
    #[serde(default)]
    pub quota: Option<Quota>,
    /// A new password; all of the user's sessions end.
    #[serde(default)]
    pub password: Option<String>,
    /// A new email address; `""` removes it.
    #[serde(default)]
    pub email: Option<String>,
}

/// `POST /users/me/password`.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangePasswordRequest {
    pub current_password: String,
    pub new_password: String,
}

/// `POST /tokens`.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTokenRequest {
    pub name: String,
    #[serde(default = "default_scope")]
    pub scope: Scope,
    /// When it stops working (RFC 3339).
    #[serde(default)]
    pub expires_at: Option<DateTime<Utc>>,
    /// Or how long it lasts, e.g. `30d`, `12h`.
    #[serde(default)]
    pub expires_in: Option<String>,
}

fn default_scope() -> Scope {
    Scope::Full
}

impl CreateTokenRequest {
    /// The expiry asked for; errors name `expires_in` / `expires_at`.
    pub fn expiry(&self) -> Result<Option<DateTime<Utc>>, FieldError> {
        match (&self.expires_at, &self.expires_in) {
            (Some(_), Some(_)) => Err(FieldError::new(
                "expires_in",
                "give expires_at or expires_in, not both",
            )),
            (Some(at), None) => Ok(Some(*at)),
            (None, Some(text)) => {
                let span = berth_types::schedule::parse_duration(text, "expires_in")?;
                Ok(Some(Utc::now() + span))
            }
            (None, None) => Ok(None),
        }
    }
}

/// A new token; `secret` is shown this once and stored only as a hash.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CreatedTokenResponse {
    pub token: ApiToken,
    pub secret: String,
}
