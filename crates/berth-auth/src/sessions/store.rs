//! The `sessions` table: open, refresh (rotating), check and revoke sessions.

use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, TransactionBehavior, params};
use uuid::Uuid;

use super::{
    ClientInfo, IssuedSession, JwtKey, REFRESH_TTL, SessionError, access_token, new_refresh_token,
};
use crate::db::{from_millis, now, to_millis};
use crate::principal::{Principal, Scope, Via};
use crate::secret::{constant_time_eq, sha256};
use crate::{AuthDb, User};

impl AuthDb {
    /// Opens a session for `user` (whose password was just checked) and issues its tokens.
    pub fn create_session(
        &self,
        key: &JwtKey,
        user: &User,
        client: &ClientInfo,
    ) -> Result<IssuedSession, SessionError> {
        let now = now();
        let session_id = Uuid::new_v4();
        let (refresh_token, hash) = new_refresh_token();
        let refresh_expires_at = now + REFRESH_TTL;
        self.conn().execute(
            "INSERT INTO sessions (id, user_id, refresh_hash, created_at, expires_at, ip, user_agent)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                session_id.to_string(),
                user.id.to_string(),
                &hash[..],
                to_millis(now),
                to_millis(refresh_expires_at),
                client.ip,
                client.user_agent
            ],
        )?;
        let (access_token, access_expires_at) = access_token(key, user, session_id, now)?;
        Ok(IssuedSession {
            session_id,
            user: user.clone(),
            access_token,
            access_expires_at,
            refresh_token,
            refresh_expires_at,
        })
    }

    /// Trades a refresh token for a new access token and a new refresh token; the old refresh
    /// token stops working. A refresh token that was already traded in, presented again, means
    /// it leaked (OWASP's rotation rule): the whole session — every token descended from the
    /// same login — ends at once.
    pub fn refresh_session(
        &self,
        key: &JwtKey,
        refresh_token: &str,
    ) -> Result<IssuedSession, SessionError> {
        let now = now();
        let hash = sha256(refresh_token.as_bytes());
        let (new_token, new_hash) = new_refresh_token();
        let refresh_expires_at = now + REFRESH_TTL;
        let session_id = {
            let mut conn = self.conn();
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let row: Option<(String, Vec<u8>, i64, Option<i64>)> = tx
                .query_row(
                    "SELECT id, refresh_hash, expires_at, revoked_at FROM sessions
                     WHERE refresh_hash = ?1",
                    [&hash[..]],
                    |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?)),
                )
                .optional()?;
            let Some((id, stored, expires_at, revoked_at)) = row else {
                let reused: Option<String> = tx
                    .query_row(
                        "SELECT session_id FROM refresh_used WHERE hash = ?1",
                        [&hash[..]],
                        |row| row.get(0),
                    )
                    .optional()?;
                if let Some(family) = reused {
                    tx.execute(
                        "UPDATE sessions SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL",
                        params![family, to_millis(now)],
                    )?;
                    tx.commit()?;
                    return Err(SessionError::RefreshReused);
                }
                return Err(SessionError::InvalidRefresh);
            };
            if !constant_time_eq(&stored, &hash)
                || revoked_at.is_some()
                || from_millis(expires_at) <= now
            {
                return Err(SessionError::InvalidRefresh);
            }
            tx.execute(
                "UPDATE sessions SET refresh_hash = ?2, expires_at = ?3 WHERE id = ?1",
                params![id, &new_hash[..], to_millis(refresh_expires_at)],
            )?;
            tx.execute(
                "INSERT OR REPLACE INTO refresh_used (hash, session_id, used_at) VALUES (?1, ?2, ?3)",
                params![&hash[..], id, to_millis(now)],
            )?;
            tx.commit()?;
            Uuid::parse_str(&id).map_err(|_| SessionError::InvalidRefresh)?
        };
        let user = self.session_user(session_id)?;
        let (access_token, access_expires_at) = access_token(key, &user, session_id, now)?;
        Ok(IssuedSession {
            session_id,
            user,
            access_token,
            access_expires_at,
            refresh_token: new_token,
            refresh_expires_at,
        })
    }

    /// The caller behind an access token: signature and expiry checked, the session still live,
    /// and the role as it is now (not as when the token was signed).
    pub fn verify_access(&self, key: &JwtKey, token: &str) -> Result<Principal, SessionError> {
        let claims = key.verify(token)?;
        let live: Option<(String, Option<i64>, i64)> = self
            .conn()
            .query_row(
                "SELECT user_id, revoked_at, expires_at FROM sessions WHERE id = ?1",
                [claims.sid.to_string()],
                |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
            )
            .optional()?;
        match live {
            Some((user_id, None, expires_at))
                if user_id == claims.sub.to_string() && from_millis(expires_at) > now() => {}
            _ => return Err(SessionError::Revoked),
        }
        let user = self.session_user(claims.sid)?;
        Ok(Principal {
            user_id: user.id,
            username: user.username,
            role: user.role,
            scope: Scope::Full,
            via: Via::Session {
                session_id: claims.sid,
            },
        })
    }

    /// The user of a session that is still live (not revoked, not past its refresh expiry),
    /// for callers holding it open for long (an event stream); `None` once it is over.
    pub fn live_session_user(&self, session_id: Uuid) -> Result<Option<User>, SessionError> {
        let live: Option<(Option<i64>, i64)> = self
            .conn()
            .query_row(
                "SELECT revoked_at, expires_at FROM sessions WHERE id = ?1",
                [session_id.to_string()],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .optional()?;
        match live {
            Some((None, expires_at)) if from_millis(expires_at) > now() => {
                match self.session_user(session_id) {
                    Ok(user) => Ok(Some(user)),
                    Err(SessionError::Revoked) => Ok(None),
                    Err(e) => Err(e),
                }
            }
            _ => Ok(None),
        }
    }

    fn session_user(&self, session_id: Uuid) -> Result<User, SessionError> {
        let user_id: Option<String> = self
            .conn()
            .query_row(
                "SELECT user_id FROM sessions WHERE id = ?1",
                [session_id.to_string()],
                |row| row.get(0),
            )
            .optional()?;
        let user_id = user_id
            .and_then(|id| Uuid::parse_str(&id).ok())
            .ok_or(SessionError::Revoked)?;
        match self.user(user_id) {
            Ok(Some(user)) => Ok(user),
            Ok(None) => Err(SessionError::Revoked),
            Err(e) => Err(SessionError::User(e)),
        }
    }

    /// Ends one session (logout); false if it was already over.
    pub fn revoke_session(&self, session_id: Uuid) -> Result<bool, SessionError> {
        Ok(self.conn().execute(
            "UPDATE sessions SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL",
            params![session_id.to_string(), to_millis(now())],
        )? > 0)
    }

    /// Ends every session of a user except `keep`; returns how many ended.
    pub fn revoke_user_sessions(
        &self,
        user_id: Uuid,
        keep: Option<Uuid>,
    ) -> Result<usize, SessionError> {
        Ok(self.conn().execute(
            "UPDATE sessions SET revoked_at = ?3
             WHERE user_id = ?1 AND revoked_at IS NULL AND id IS NOT ?2",
            params![
                user_id.to_string(),
                keep.map(|s| s.to_string()),
                to_millis(now())
            ],
        )?)
    }

    /// Forgets sessions that expired or were revoked before `before`; returns how many.
    /// Used refresh tokens are kept as long as they could have been valid, to recognise reuse.
    pub fn prune_sessions(&self, before: DateTime<Utc>) -> Result<usize, SessionError> {
        let conn = self.conn();
        conn.execute(
            "DELETE FROM refresh_used WHERE used_at < ?1",
            [to_millis(before - REFRESH_TTL)],
        )?;
        Ok(conn.execute(
            "DELETE FROM sessions WHERE expires_at < ?1 OR revoked_at < ?1",
            [to_millis(before)],
        )?)
    }
}
