//! [`Auth`]: the one object berthd holds. It bundles the tables, the JWT key and the login
//! limiter, and offers the request-level steps: log in, refresh, log out, authenticate a bearer
//! credential, change a password, prune.

use std::path::Path;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::principal::Via;
use crate::sessions::{ClientInfo, IssuedSession, JwtKey, SessionError};
use crate::tokens::{self, TokenError};
use crate::{
    AuditError, AuthDb, CallLimiter, DbError, Denied, LoginLimiter, LoginPolicy, Principal,
    RetryAfter, UserError,
};

#[cfg(test)]
mod tests;

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// Unknown user or wrong password: one message for both (401).
    #[error("wrong username or password")]
    InvalidCredentials,
    /// Too many failures (429 with `Retry-After`).
    #[error(transparent)]
    RateLimited(#[from] RetryAfter),
    /// A bad, expired or revoked API token (401).
    #[error(transparent)]
    Token(#[from] TokenError),
    /// A bad, expired or revoked session (401), or a storage failure behind it.
    #[error(transparent)]
    Session(#[from] SessionError),
    /// Authenticated but not allowed (403, or 404 for [`Denied::Hidden`]).
    #[error(transparent)]
    Denied(#[from] Denied),
    #[error(transparent)]
    User(#[from] UserError),
    #[error(transparent)]
    Audit(#[from] AuditError),
    #[error(transparent)]
    Db(#[from] DbError),
}

/// Accounts, sessions and tokens, ready for request handlers.
pub struct Auth {
    db: AuthDb,
    key: JwtKey,
    limiter: LoginLimiter,
    calls: CallLimiter,
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Auth").finish_non_exhaustive()
    }
}

impl Auth {
    /// Opens the auth tables in `database` (the store's file is fine) and the signing key in
    /// `data_dir`, with the default login throttling.
    pub fn open(data_dir: &Path, database: &Path) -> Result<Self, AuthError> {
        Self::open_with(data_dir, database, LoginPolicy::default())
    }

    /// Like [`Auth::open`], with this login throttling.
    pub fn open_with(
        data_dir: &Path,
        database: &Path,
        login: LoginPolicy,
    ) -> Result<Self, AuthError> {
        Ok(Self::new(
            AuthDb::open(database)?,
            JwtKey::load_or_create(data_dir)?,
            LoginLimiter::new(login),
        ))
    }

    pub fn new(db: AuthDb, key: JwtKey, limiter: LoginLimiter) -> Self {
        Self {
            db,
            key,
            limiter,
            calls: CallLimiter::default(),
        }
    }

    /// The per-user buckets of expensive calls.
    pub fn calls(&self) -> &CallLimiter {
        &self.calls
    }

    /// The tables: users, tokens, quotas, audit.
    pub fn db(&self) -> &AuthDb {
        &self.db
    }

    /// Checks a username and password (throttled per (username, address) and per address,
    /// never per username alone, so nobody can lock a user out) and opens a session.
    pub fn login(
        &self,
        username: &str,
        password: &str,
        client: &ClientInfo,
    ) -> Result<IssuedSession, AuthError> {
        let attempt = self.limiter.begin(client.ip.as_deref(), username)?;
        let user = match self.db.verify_credentials(username, password) {
            Ok(user) => user,
            Err(UserError::InvalidCredentials) => return Err(AuthError::InvalidCredentials),
            Err(e) => return Err(e.into()),
        };
        self.limiter.succeeded(attempt);
        Ok(self.db.create_session(&self.key, &user, client)?)
    }

    /// New tokens for a refresh token; the old one stops working.
    pub fn refresh(&self, refresh_token: &str) -> Result<IssuedSession, AuthError> {
        Ok(self.db.refresh_session(&self.key, refresh_token)?)
    }

    /// Ends the caller's session (a token or socket caller has none to end).
    pub fn logout(&self, principal: &Principal) -> Result<(), AuthError> {
        if let Via::Session { session_id } = principal.via {
            self.db.revoke_session(session_id)?;
        }
        Ok(())
    }

    /// The caller behind an `Authorization: Bearer …` value: an API token (`berth_…`) or a
    /// session access token (JWT).
    pub fn authenticate(&self, bearer: &str) -> Result<Principal, AuthError> {
        let bearer = bearer.trim();
        if tokens::is_api_token(bearer) {
            Ok(self.db.verify_token(bearer)?)
        } else {
            Ok(self.db.verify_access(&self.key, bearer)?)
        }
    }

    /// `principal` as it stands now — its credential still live, its role as it is today — or
    /// `None` once its session ended or its token was revoked or expired (or its user is
    /// gone). For streams that outlive the request that authenticated them.
    pub fn recheck(&self, principal: &Principal) -> Result<Option<Principal>, AuthError> {
        Ok(match &principal.via {
            Via::Socket => Some(principal.clone()),
            Via::Session { session_id } => {
                self.db
                    .live_session_user(*session_id)?
                    .map(|user| Principal {
                        user_id: user.id,
                        username: user.username,
                        role: user.role,
                        ..principal.clone()
                    })
            }
            Via::Token { token_id, .. } => self.db.live_token(*token_id)?,
        })
    }

    /// The caller changes their own password, proving the current one; every other session
    /// of theirs ends. Read-only tokens may not.
    pub fn change_own_password(
        &self,
        principal: &Principal,
        current: &str,
        new: &str,
        client: &ClientInfo,
    ) -> Result<(), AuthError> {
        if principal.scope == crate::Scope::ReadOnly {
            return Err(Denied::ReadOnly.into());
        }
        let attempt = self
            .limiter
            .begin(client.ip.as_deref(), &principal.username)?;
        match self.db.verify_credentials(&principal.username, current) {
            Ok(_) => self.limiter.succeeded(attempt),
            Err(UserError::InvalidCredentials) => return Err(AuthError::InvalidCredentials),
            Err(e) => return Err(e.into()),
        }
        let keep = match principal.via {
            Via::Session { session_id } => Some(session_id),
            _ => None,
        };
        Ok(self.db.set_password(principal.user_id, new, keep)?)
    }

    /// An admin sets another user's password; all of that user's sessions end.
    pub fn reset_password(&self, user_id: Uuid, new: &str) -> Result<(), AuthError> {
        Ok(self.db.set_password(user_id, new, None)?)
    }

    /// Retention: forgets sessions over before `sessions_before` and audit entries older than
    /// `audit_before`, then keeps the audit log under its size caps. Returns (sessions, audit
    /// entries past retention, audit entries dropped by the caps).
    pub fn prune(
        &self,
        sessions_before: DateTime<Utc>,
        audit_before: DateTime<Utc>,
    ) -> Result<(usize, usize, u64), AuthError> {
        Ok((
            self.db.prune_sessions(sessions_before)?,
            self.db.prune_audit(audit_before)?,
            self.db.enforce_audit_bounds()?,
        ))
    }
}
