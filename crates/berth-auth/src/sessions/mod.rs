//! Login sessions: a 15-minute HS256 JWT access token and a 30-day opaque refresh token that
//! rotates on every use. The `sessions` table keeps only the refresh token's SHA-256; an access
//! token is honoured only while its session row is live, so logout takes effect at once.

use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Duration, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::files::{self, FileError};
use crate::secret::random_bytes;
use crate::{Role, Secret, User, UserError};

mod store;
#[cfg(test)]
mod tests;

/// How long an access token is valid.
pub const ACCESS_TTL: Duration = Duration::minutes(15);
/// How long a refresh token is valid after it was issued (each refresh issues a new one).
pub const REFRESH_TTL: Duration = Duration::days(30);
/// The signing key's file under the data directory.
pub const KEY_FILE: &str = "jwt.key";

#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error("malformed or forged access token")]
    InvalidToken,
    #[error("access token expired; refresh it")]
    Expired,
    #[error("session ended; log in again")]
    Revoked,
    #[error("unknown, used or expired refresh token; log in again")]
    InvalidRefresh,
    /// A refresh token that was already traded in came back: it leaked, so its whole session
    /// (every token descended from the same login) has ended.
    #[error("this refresh token was already used; the session has ended for safety; log in again")]
    RefreshReused,
    #[error(
        "signing key {path} is not 32 bytes; delete it to make a new one (this logs everyone out)"
    )]
    BadKey { path: PathBuf },
    #[error("signing the access token failed")]
    Sign(#[source] jsonwebtoken::errors::Error),
    #[error(transparent)]
    File(#[from] FileError),
    #[error(transparent)]
    User(#[from] UserError),
    #[error("database")]
    Sqlite(#[from] rusqlite::Error),
}

/// The HS256 secret that signs access tokens: 32 random bytes in `<data_dir>/jwt.key` (0600).
#[derive(Clone)]
pub struct JwtKey([u8; 32]);

impl std::fmt::Debug for JwtKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("JwtKey(<redacted>)")
    }
}

impl JwtKey {
    /// Reads `<data_dir>/jwt.key`, creating it with a fresh random key if missing.
    pub fn load_or_create(data_dir: &Path) -> Result<Self, SessionError> {
        let path = data_dir.join(KEY_FILE);
        match files::read_private(&path)? {
            Some(bytes) => <[u8; 32]>::try_from(bytes.as_slice())
                .map(Self)
                .map_err(|_| SessionError::BadKey { path }),
            None => {
                let key = random_bytes();
                files::write_private(&path, &key)?;
                Ok(Self(key))
            }
        }
    }

    /// A key from raw bytes (tests, or a key kept elsewhere).
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    fn sign(&self, claims: &Claims) -> Result<String, SessionError> {
        jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            claims,
            &EncodingKey::from_secret(&self.0),
        )
        .map_err(SessionError::Sign)
    }

    /// The claims of a token this key signed, if it has not expired.
    pub fn verify(&self, token: &str) -> Result<Claims, SessionError> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 5;
        validation.set_required_spec_claims(&["exp", "iat", "sub"]);
        jsonwebtoken::decode::<Claims>(token, &DecodingKey::from_secret(&self.0), &validation)
            .map(|data| data.claims)
            .map_err(|e| match e.kind() {
                jsonwebtoken::errors::ErrorKind::ExpiredSignature => SessionError::Expired,
                _ => SessionError::InvalidToken,
            })
    }
}

/// The access token's claims.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// The user id.
    pub sub: Uuid,
    pub role: Role,
    /// The session id.
    pub sid: Uuid,
    pub iat: i64,
    pub exp: i64,
}

/// Where a request came from, for sessions and the audit log.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientInfo {
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

/// A login or refresh result: both tokens are shown to the client once.
#[derive(Debug, Clone)]
pub struct IssuedSession {
    pub session_id: Uuid,
    pub user: User,
    pub access_token: Secret,
    pub access_expires_at: DateTime<Utc>,
    pub refresh_token: Secret,
    pub refresh_expires_at: DateTime<Utc>,
}

/// A fresh refresh token and its SHA-256.
fn new_refresh_token() -> (Secret, [u8; 32]) {
    let token = URL_SAFE_NO_PAD.encode(random_bytes());
    let hash = crate::secret::sha256(token.as_bytes());
    (Secret::new(token), hash)
}

fn access_token(
    key: &JwtKey,
    user: &User,
    session_id: Uuid,
    now: DateTime<Utc>,
) -> Result<(Secret, DateTime<Utc>), SessionError> {
    let expires = now + ACCESS_TTL;
    let claims = Claims {
        sub: user.id,
        role: user.role,
        sid: session_id,
        iat: now.timestamp(),
        exp: expires.timestamp(),
    };
    Ok((Secret::new(key.sign(&claims)?), expires))
}
