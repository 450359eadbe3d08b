//! Berth's accounts and access: users and roles, argon2id passwords, JWT sessions with rotating
//! refresh tokens, API tokens, login rate limiting, quotas, the audit log and TLS material. A
//! library with no HTTP: berthd's middleware and handlers call it, mostly through [`Auth`].
//!
//! Its tables live in their own schema (versioned in `auth_schema`, not the store's
//! `PRAGMA user_version`), normally in the store's database file through a second connection.

pub mod api;
pub mod audit;
pub mod bootstrap;
mod db;
mod files;
pub mod password;
pub mod principal;
pub mod quota;
pub mod ratelimit;
mod secret;
mod service;
pub mod sessions;
pub mod tls;
pub mod tokens;
pub mod users;

pub use audit::{AuditBounds, AuditEntry, AuditError, AuditFilter, NewAuditEntry, redact};
pub use bootstrap::{BootstrapError, InitialAdmin, ensure_initial_admin};
pub use db::{AuthDb, DbError};
pub use files::FileError;
pub use principal::{Denied, Principal, Scope, Via};
pub use quota::{Quota, QuotaError, Usage};
pub use ratelimit::{Attempt, CallLimiter, LoginLimiter, LoginPolicy, Rate, RateError, RetryAfter};
pub use secret::{Secret, constant_time_eq};
pub use service::{Auth, AuthError};
pub use sessions::{ClientInfo, IssuedSession, JwtKey, SessionError};
pub use tls::{TlsError, TlsMaterial};
pub use tokens::{ApiToken, CreatedToken, TokenError};
pub use users::{Role, User, UserError, validate_username};
