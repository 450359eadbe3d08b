//! The `api_tokens` table: create, verify, list and revoke.

use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, Row, params};
use uuid::Uuid;

use super::{ApiToken, CreatedToken, TokenError, format, parse, validate_token_name};
use crate::db::{from_millis, is_unique_violation, now, to_millis};
use crate::principal::{Principal, Scope, Via};
use crate::secret::{constant_time_eq, random_bytes, sha256};
use crate::{AuthDb, Role};

const COLUMNS: &str = "api_tokens.id, user_id, name, scope, api_tokens.created_at, expires_at, \
                       last_used_at";

fn from_row(row: &Row<'_>) -> rusqlite::Result<Result<ApiToken, TokenError>> {
    let id: String = row.get(0)?;
    let user_id: String = row.get(1)?;
    let scope: String = row.get(3)?;
    let uuid = |value: String, column| {
        Uuid::parse_str(&value).map_err(|_| TokenError::Corrupt { column, value })
    };
    let token = (|| {
        Ok(ApiToken {
            id: uuid(id, "api_tokens.id")?,
            user_id: uuid(user_id, "api_tokens.user_id")?,
            name: row.get(2)?,
            scope: Scope::parse(&scope).ok_or_else(|| TokenError::Corrupt {
                column: "api_tokens.scope",
                value: scope.clone(),
            })?,
            created_at: from_millis(row.get(4)?),
            expires_at: row.get::<_, Option<i64>>(5)?.map(from_millis),
            last_used_at: row.get::<_, Option<i64>>(6)?.map(from_millis),
        })
    })();
    match token {
        Err(TokenError::Sqlite(e)) => Err(e),
        other => Ok(other),
    }
}

impl AuthDb {
    /// Creates a token for `user_id`. The returned secret is the only copy.
    pub fn create_token(
        &self,
        user_id: Uuid,
        name: &str,
        scope: Scope,
        expires_at: Option<DateTime<Utc>>,
    ) -> Result<CreatedToken, TokenError> {
        validate_token_name(name)?;
        let now = now();
        if expires_at.is_some_and(|at| at <= now) {
            return Err(berth_types::FieldError::new("expires_at", "is in the past").into());
        }
        let token = ApiToken {
            id: Uuid::new_v4(),
            user_id,
            name: name.to_owned(),
            scope,
            created_at: now,
            expires_at: expires_at.map(|at| from_millis(to_millis(at))),
            last_used_at: None,
        };
        let secret = random_bytes();
        self.conn()
            .execute(
                "INSERT INTO api_tokens (id, user_id, name, scope, secret_hash, created_at, expires_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![
                    token.id.to_string(),
                    user_id.to_string(),
                    name,
                    scope.as_str(),
                    &sha256(&secret)[..],
                    to_millis(now),
                    token.expires_at.map(to_millis)
                ],
            )
            .map_err(|e| match e {
                e if is_unique_violation(&e) => TokenError::Taken(name.to_owned()),
                rusqlite::Error::SqliteFailure(f, _)
                    if f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_FOREIGNKEY =>
                {
                    TokenError::NotFound
                }
                e => e.into(),
            })?;
        Ok(CreatedToken {
            secret: format(token.id, &secret),
            token,
        })
    }

    /// The caller behind an API token string.
    pub fn verify_token(&self, token: &str) -> Result<Principal, TokenError> {
        let (id, secret) = parse(token)?;
        let found = self
            .conn()
            .query_row(
                &format!(
                    "SELECT {COLUMNS}, secret_hash, u.username, u.role
                     FROM api_tokens JOIN users u ON u.id = api_tokens.user_id
                     WHERE api_tokens.id = ?1"
                ),
                [id.to_string()],
                |row| {
                    Ok((
                        from_row(row)?,
                        row.get::<_, Vec<u8>>(7)?,
                        row.get(8)?,
                        row.get(9)?,
                    ))
                },
            )
            .optional()?;
        // An unknown id costs the same hash and comparison as a wrong secret.
        let computed = sha256(&secret);
        let Some((token, stored, username, role)) = found else {
            let _ = constant_time_eq(&computed, &[0; 32]);
            return Err(TokenError::Invalid);
        };
        let role: String = role;
        if !constant_time_eq(&computed, &stored) {
            return Err(TokenError::Invalid);
        }
        let token = token?;
        let now = now();
        if token.expires_at.is_some_and(|at| at <= now) {
            return Err(TokenError::Expired);
        }
        let role = Role::parse(&role).ok_or(TokenError::Corrupt {
            column: "users.role",
            value: role.clone(),
        })?;
        self.conn().execute(
            "UPDATE api_tokens SET last_used_at = ?2 WHERE id = ?1",
            params![id.to_string(), to_millis(now)],
        )?;
        Ok(Principal {
            user_id: token.user_id,
            username,
            role,
            scope: token.scope,
            via: Via::Token {
                token_id: id,
                name: token.name,
            },
        })
    }

    /// The caller behind API token `id` as it is now (its user's current role), or `None` once
    /// the token is revoked or expired; for callers holding a stream open for long.
    pub fn live_token(&self, id: Uuid) -> Result<Option<Principal>, TokenError> {
        let found = self
            .conn()
            .query_row(
                &format!(
                    "SELECT {COLUMNS}, u.username, u.role
                     FROM api_tokens JOIN users u ON u.id = api_tokens.user_id
                     WHERE api_tokens.id = ?1"
                ),
                [id.to_string()],
                |row| {
                    Ok((
                        from_row(row)?,
                        row.get::<_, String>(7)?,
                        row.get::<_, String>(8)?,
                    ))
                },
            )
            .optional()?;
        let Some((token, username, role)) = found else {
            return Ok(None);
        };
        let token = token?;
        if token.expires_at.is_some_and(|at| at <= now()) {
            return Ok(None);
        }
        let role = Role::parse(&role).ok_or(TokenError::Corrupt {
            column: "users.role",
            value: role.clone(),
        })?;
        Ok(Some(Principal {
            user_id: token.user_id,
            username,
            role,
            scope: token.scope,
            via: Via::Token {
                token_id: id,
                name: token.name,
            },
        }))
    }

    /// Tokens of one user, or of everyone (`None`, for admins), oldest first. No secrets.
    pub fn tokens(&self, user_id: Option<Uuid>) -> Result<Vec<ApiToken>, TokenError> {
        let conn = self.conn();
        let mut stmt = conn.prepare(&format!(
            "SELECT {COLUMNS} FROM api_tokens WHERE ?1 IS NULL OR user_id = ?1
             ORDER BY created_at, name"
        ))?;
        let rows = stmt.query_map([user_id.map(|id| id.to_string())], from_row)?;
        rows.map(|row| row?).collect()
    }

    /// Revokes (deletes) a token. With `owner`, only that user's token: someone else's is
    /// `NotFound`, as if it did not exist.
    pub fn revoke_token(&self, id: Uuid, owner: Option<Uuid>) -> Result<(), TokenError> {
        let deleted = self.conn().execute(
            "DELETE FROM api_tokens WHERE id = ?1 AND (?2 IS NULL OR user_id = ?2)",
            params![id.to_string(), owner.map(|o| o.to_string())],
        )?;
        if deleted == 0 {
            return Err(TokenError::NotFound);
        }
        Ok(())
    }
}
