//! The `users` table: create, find, list, change and delete accounts, and check passwords.

use rusqlite::{OptionalExtension, params};
use uuid::Uuid;

use super::{COLUMNS, Role, User, UserError, from_row, validate_username};
use crate::db::{is_unique_violation, now, to_millis};
use crate::password;
use crate::{AuthDb, Quota};

impl AuthDb {
    /// Creates an account after checking the username and the password policy.
    pub fn create_user(
        &self,
        username: &str,
        password: &str,
        role: Role,
        quota: Quota,
    ) -> Result<User, UserError> {
        validate_username(username)?;
        password::validate_password(password, username)?;
        quota.validate()?;
        let hash = password::hash_password(password)?;
        let user = User {
            id: Uuid::new_v4(),
            username: username.to_owned(),
            role,
            created_at: now(),
            quota,
            email: None,
        };
        let quota_json = serde_json::to_string(&user.quota).unwrap_or_else(|_| "{}".into());
        self.conn()
            .execute(
                "INSERT INTO users (id, username, role, password_hash, quota, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    user.id.to_string(),
                    user.username,
                    role.as_str(),
                    hash,
                    quota_json,
                    to_millis(user.created_at)
                ],
            )
            .map_err(|e| {
                if is_unique_violation(&e) {
                    UserError::Taken(username.to_owned())
                } else {
                    e.into()
                }
            })?;
        Ok(user)
    }

    pub fn user(&self, id: Uuid) -> Result<Option<User>, UserError> {
        self.find_user("id", &id.to_string())
    }

    pub fn user_by_name(&self, username: &str) -> Result<Option<User>, UserError> {
        self.find_user("username", username)
    }

    fn find_user(&self, column: &str, value: &str) -> Result<Option<User>, UserError> {
        self.conn()
            .query_row(
                &format!("SELECT {COLUMNS} FROM users WHERE {column} = ?1"),
                [value],
                from_row,
            )
            .optional()?
            .transpose()
    }

    /// Every account, by username.
    pub fn users(&self) -> Result<Vec<User>, UserError> {
        let conn = self.conn();
        let mut stmt = conn.prepare(&format!("SELECT {COLUMNS} FROM users ORDER BY username"))?;
        let rows = stmt.query_map([], from_row)?;
        rows.map(|row| row?).collect()
    }

    pub fn user_count(&self) -> Result<u64, UserError> {
        Ok(self
            .conn()
            .query_row("SELECT COUNT(*) FROM users", [], |row| row.get(0))?)
    }

    /// Deletes an account with its sessions, tokens and reservations; never the last admin.
    pub fn delete_user(&self, id: Uuid) -> Result<(), UserError> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        guard_last_admin(&tx, id)?;
        if tx.execute("DELETE FROM users WHERE id = ?1", [id.to_string()])? == 0 {
            return Err(UserError::NotFound);
        }
        tx.commit()?;
        Ok(())
    }

    /// Deletes an account without the last-admin check (undoing a half-done bootstrap).
    pub(crate) fn delete_user_unchecked(&self, id: Uuid) -> Result<(), UserError> {
        self.conn()
            .execute("DELETE FROM users WHERE id = ?1", [id.to_string()])?;
        Ok(())
    }

    /// Changes a role; the last admin cannot be demoted.
    pub fn set_role(&self, id: Uuid, role: Role) -> Result<(), UserError> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        if role != Role::Admin {
            guard_last_admin(&tx, id)?;
        }
        let changed = tx.execute(
            "UPDATE users SET role = ?2 WHERE id = ?1",
            params![id.to_string(), role.as_str()],
        )?;
        if changed == 0 {
            return Err(UserError::NotFound);
        }
        tx.commit()?;
        Ok(())
    }

    /// Sets (or with `None` clears) the user's email address.
    pub fn set_email(&self, id: Uuid, email: Option<&str>) -> Result<(), UserError> {
        if let Some(email) = email {
            super::validate_email(email)?;
        }
        let changed = self.conn().execute(
            "UPDATE users SET email = ?2 WHERE id = ?1",
            params![id.to_string(), email],
        )?;
        if changed == 0 {
            return Err(UserError::NotFound);
        }
        Ok(())
    }

    pub fn set_quota(&self, id: Uuid, quota: Quota) -> Result<(), UserError> {
        quota.validate()?;
        let json = serde_json::to_string(&quota).unwrap_or_else(|_| "{}".into());
        let changed = self.conn().execute(
            "UPDATE users SET quota = ?2 WHERE id = ?1",
            params![id.to_string(), json],
        )?;
        if changed == 0 {
            return Err(UserError::NotFound);
        }
        Ok(())
    }

    /// Sets a new password (checked against the policy) and revokes every session of the user
    /// except `keep_session` (the one that asked, if any).
    pub fn set_password(
        &self,
        id: Uuid,
        new_password: &str,
        keep_session: Option<Uuid>,
    ) -> Result<(), UserError> {
        let user = self.user(id)?.ok_or(UserError::NotFound)?;
        password::validate_password(new_password, &user.username)?;
        let hash = password::hash_password(new_password)?;
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        if tx.execute(
            "UPDATE users SET password_hash = ?2 WHERE id = ?1",
            params![id.to_string(), hash],
        )? == 0
        {
            return Err(UserError::NotFound);
        }
        tx.execute(
            "UPDATE sessions SET revoked_at = ?3
             WHERE user_id = ?1 AND revoked_at IS NULL AND id IS NOT ?2",
            params![
                id.to_string(),
                keep_session.map(|s| s.to_string()),
                to_millis(now())
            ],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// The user with this username and password. An unknown username costs the same argon2
    /// work as a wrong password and gives the same error.
    pub fn verify_credentials(&self, username: &str, password: &str) -> Result<User, UserError> {
        let found: Option<(String, String)> = self
            .conn()
            .query_row(
                "SELECT id, password_hash FROM users WHERE username = ?1",
                [username],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .optional()?;
        let Some((id, hash)) = found else {
            password::burn_verification(password);
            return Err(UserError::InvalidCredentials);
        };
        if !password::verify_password(&hash, password) {
            return Err(UserError::InvalidCredentials);
        }
        let id = Uuid::parse_str(&id).map_err(|_| UserError::Corrupt {
            column: "users.id",
            value: id,
        })?;
        self.user(id)?.ok_or(UserError::InvalidCredentials)
    }
}

/// Fails if `id` is the only admin left.
fn guard_last_admin(tx: &rusqlite::Transaction<'_>, id: Uuid) -> Result<(), UserError> {
    let (is_admin, admins): (bool, i64) = tx.query_row(
        "SELECT EXISTS(SELECT 1 FROM users WHERE id = ?1 AND role = 'admin'),
                (SELECT COUNT(*) FROM users WHERE role = 'admin')",
        [id.to_string()],
        |row| Ok((row.get(0)?, row.get(1)?)),
    )?;
    if is_admin && admins <= 1 {
        return Err(UserError::LastAdmin);
    }
    Ok(())
}
