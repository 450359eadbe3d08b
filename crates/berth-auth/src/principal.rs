//! Who is asking, once authenticated, and what they may touch. Resources are owned by a user,
//! recorded by username (as the store does today) or by user id; either matches.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{Role, User};

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Denied {
    /// Someone else's resource: answer 404 so its existence does not leak.
    #[error("not found")]
    Hidden,
    /// A read-only token asked to change something: 403.
    #[error("this API token is read-only")]
    ReadOnly,
    /// Only admins may do this: 403.
    #[error("only an admin may do this")]
    AdminOnly,
}

/// What a credential allows: everything its user may do, or only reading.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    #[default]
    Full,
    ReadOnly,
}

impl Scope {
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Full => "full",
            Scope::ReadOnly => "read_only",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "full" => Some(Scope::Full),
            "read_only" => Some(Scope::ReadOnly),
            _ => None,
        }
    }
}

/// How the caller proved who they are.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Via {
    /// A JWT from `POST /auth/login`.
    Session { session_id: Uuid },
    /// An API token.
    Token { token_id: Uuid, name: String },
    /// The local unix socket (peer credentials).
    Socket,
}

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Principal {
    pub user_id: Uuid,
    pub username: String,
    pub role: Role,
    pub scope: Scope,
    pub via: Via,
}

impl Principal {
    /// Root on the unix socket, acting as `admin` (an admin account) with full scope.
    pub fn socket(admin: &User) -> Self {
        Self {
            user_id: admin.id,
            username: admin.username.clone(),
            role: admin.role,
            scope: Scope::Full,
            via: Via::Socket,
        }
    }

    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }

    /// Whether `owner` (a username or user id) is this caller.
    pub fn owns(&self, owner: &str) -> bool {
        owner == self.username || Uuid::parse_str(owner).is_ok_and(|id| id == self.user_id)
    }

    pub fn can_read(&self, owner: &str) -> bool {
        self.is_admin() || self.owns(owner)
    }

    /// Reading rights plus a credential that is not read-only.
    pub fn can_write(&self, owner: &str) -> bool {
        self.scope == Scope::Full && self.can_read(owner)
    }

    /// `can_read` as an error: another user's resource is [`Denied::Hidden`].
    pub fn authorize_read(&self, owner: &str) -> Result<(), Denied> {
        if self.can_read(owner) {
            Ok(())
        } else {
            Err(Denied::Hidden)
        }
    }

    /// `can_write` as an error: hidden first (no leak), then read-only.
    pub fn authorize_write(&self, owner: &str) -> Result<(), Denied> {
        self.authorize_read(owner)?;
        if self.scope == Scope::ReadOnly {
            return Err(Denied::ReadOnly);
        }
        Ok(())
    }

    /// For admin-only actions (users, settings): an admin with a full-scope credential.
    pub fn authorize_admin(&self, write: bool) -> Result<(), Denied> {
        if !self.is_admin() {
            return Err(Denied::AdminOnly);
        }
        if write && self.scope == Scope::ReadOnly {
            return Err(Denied::ReadOnly);
        }
        Ok(())
    }

    /// The audit log's `actor`: the username, or `username/token-name` for an API token.
    pub fn actor(&self) -> String {
        match &self.via {
            Via::Token { name, .. } => format!("{}/{name}", self.username),
            _ => self.username.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn principal(name: &str, role: Role, scope: Scope) -> Principal {
        Principal {
            user_id: Uuid::new_v4(),
            username: name.into(),
            role,
            scope,
            via: Via::Session {
                session_id: Uuid::nil(),
            },
        }
    }

    #[test]
    fn owners_admins_and_read_only_tokens() {
        let alice = principal("alice", Role::User, Scope::Full);
        assert!(alice.can_read("alice") && alice.can_write("alice"));
        assert!(alice.can_read(&alice.user_id.to_string()));
        assert!(!alice.can_read("bob") && !alice.can_write("bob"));
        assert_eq!(alice.authorize_write("bob"), Err(Denied::Hidden));
        assert_eq!(alice.authorize_admin(false), Err(Denied::AdminOnly));
        let reader = Principal {
            via: Via::Token {
                token_id: Uuid::nil(),
                name: "ci".into(),
            },
            ..principal("alice", Role::User, Scope::ReadOnly)
        };
        assert!(reader.can_read("alice") && !reader.can_write("alice"));
        assert_eq!(reader.authorize_write("alice"), Err(Denied::ReadOnly));
        assert_eq!(reader.authorize_write("bob"), Err(Denied::Hidden));
        assert_eq!(reader.actor(), "alice/ci");
        let admin = principal("root", Role::Admin, Scope::Full);
        assert!(admin.is_admin() && admin.can_write("bob"));
        assert_eq!(admin.authorize_admin(true), Ok(()));
        let admin_reader = principal("root", Role::Admin, Scope::ReadOnly);
        assert!(admin_reader.can_read("bob") && !admin_reader.can_write("bob"));
        assert_eq!(admin_reader.authorize_admin(true), Err(Denied::ReadOnly));
        assert_eq!(Scope::parse("read_only"), Some(Scope::ReadOnly));
        assert_eq!(Scope::parse(Scope::Full.as_str()), Some(Scope::Full));
    }
}
