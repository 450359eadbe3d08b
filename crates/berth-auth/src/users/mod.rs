//! Accounts: usernames, roles, password hashes and per-user quotas, in the `users` table.

use berth_types::FieldError;
use chrono::{DateTime, Utc};
use rusqlite::Row;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::Quota;
use crate::db::from_millis;
use crate::password::PasswordError;

mod store;
#[cfg(test)]
mod tests;

#[derive(Debug, thiserror::Error)]
pub enum UserError {
    #[error(transparent)]
    Invalid(#[from] FieldError),
    #[error("username {0:?} is taken")]
    Taken(String),
    #[error("no such user")]
    NotFound,
    #[error("the last admin cannot be removed or demoted")]
    LastAdmin,
    #[error("wrong username or password")]
    InvalidCredentials,
    #[error(transparent)]
    Password(#[from] PasswordError),
    #[error("database")]
    Sqlite(#[from] rusqlite::Error),
    #[error("stored value {value:?} in {column} is not valid")]
    Corrupt { column: &'static str, value: String },
}

/// What a user may do: admins see and act on everything; users on what they own.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Admin,
    #[default]
    User,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::User => "user",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "admin" => Some(Role::Admin),
            "user" => Some(Role::User),
            _ => None,
        }
    }
}

/// An account, without its password hash.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct User {
    pub id: Uuid,
    pub username: String,
    pub role: Role,
    pub created_at: DateTime<Utc>,
    pub quota: Quota,
    /// Where alert notifications go; none set: the user gets no alert email.
    #[serde(default)]
    pub email: Option<String>,
}

/// Checks an email address loosely (one `@`, no spaces, at most 254 characters); the error
/// names `email`.
pub fn validate_email(email: &str) -> Result<(), FieldError> {
    let ok = email.len() <= 254
        && !email
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == ',' || c == '<')
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty() && !domain.is_empty() && !domain.contains('@')
        });
    if ok {
        Ok(())
    } else {
        Err(FieldError::new(
            "email",
            format!("{email:?} is not an email address; use name@example.com"),
        ))
    }
}

/// Checks a username: 1–32 of `[a-z0-9_.-]`, starting with a letter.
pub fn validate_username(username: &str) -> Result<(), FieldError> {
    let bad = |why: &str| {
        Err(FieldError::new(
            "username",
            format!("{why}; use 1-32 of a-z, 0-9, '_', '.', '-', starting with a letter"),
        ))
    };
    if username.is_empty() {
        return bad("is empty");
    }
    if username.len() > 32 {
        return bad("is longer than 32 characters");
    }
    if !username.starts_with(|c: char| c.is_ascii_lowercase()) {
        return bad(&format!(
            "{username:?} does not start with a lowercase letter"
        ));
    }
    if let Some(c) = username
        .chars()
        .find(|c| !matches!(c, 'a'..='z' | '0'..='9' | '_' | '.' | '-'))
    {
        return bad(&format!("{username:?} contains {c:?}"));
    }
    Ok(())
}

pub(super) const COLUMNS: &str = "id, username, role, created_at, quota, email";

pub(super) fn from_row(row: &Row<'_>) -> rusqlite::Result<Result<User, UserError>> {
    let id: String = row.get(0)?;
    let username: String = row.get(1)?;
    let role: String = row.get(2)?;
    let created_at: i64 = row.get(3)?;
    let quota: String = row.get(4)?;
    let email: Option<String> = row.get(5)?;
    Ok((|| {
        Ok(User {
            id: Uuid::parse_str(&id).map_err(|_| UserError::Corrupt {
                column: "users.id",
                value: id.clone(),
            })?,
            username,
            role: Role::parse(&role).ok_or_else(|| UserError::Corrupt {
                column: "users.role",
                value: role.clone(),
            })?,
            created_at: from_millis(created_at),
            quota: serde_json::from_str(&quota).map_err(|_| UserError::Corrupt {
                column: "users.quota",
                value: quota.clone(),
            })?,
            email,
        })
    })())
}
