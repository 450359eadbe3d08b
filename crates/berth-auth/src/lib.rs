//! Berth's accounts and access: users and roles, argon2id passwords, JWT sessions with rotating
//! refresh tokens, API tokens, login rate limiting, quotas, the audit log and TLS material. A
//! library with no HTTP: berthd's middleware and handlers call it.

mod db;
mod files;
pub mod password;
pub mod quota;
mod secret;
pub mod users;

pub use db::{AuthDb, DbError};
pub use files::FileError;
pub use quota::{Quota, QuotaError, Usage};
pub use secret::{Secret, constant_time_eq};
pub use users::{Role, User, UserError, validate_username};
pub mod principal;
pub mod sessions;

pub use principal::{Denied, Principal, Scope, Via};
pub use sessions::{ClientInfo, IssuedSession, JwtKey, SessionError};
pub mod tokens;

pub use tokens::{ApiToken, CreatedToken, TokenError};
pub mod ratelimit;

pub use ratelimit::{LoginLimiter, RetryAfter};
pub mod audit;

pub use audit::{AuditEntry, AuditError, AuditFilter, NewAuditEntry, redact};
pub mod tls;

pub use tls::{TlsError, TlsMaterial};
