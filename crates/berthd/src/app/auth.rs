//! Accounts and access in the app layer: opening berth-auth at start (with the first admin),
//! who a request is, logins, the caller's own view, users, tokens and the audit log.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use berth_auth::api::{
    ChangePasswordRequest, CreateTokenRequest, CreateUserRequest, CreatedTokenResponse, Me,
    PatchUserRequest,
};
use berth_auth::constant_time_eq;
use berth_auth::{
    ApiToken, AuditEntry, AuditFilter, Auth, ClientInfo, IssuedSession, NewAuditEntry, Principal,
    Role, User,
};
use berth_types::FieldError;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::access::{self, Want};
use super::{App, AppError};
use crate::config::Config;

/// How often expired sessions and old audit entries are deleted.
const PRUNE_EVERY: Duration = Duration::from_secs(3600);

/// Opens the auth tables next to the store's and creates the first admin on a first start.
pub fn open(config: &Config) -> Result<Auth, AppError> {
    let auth = Auth::open(&config.data_dir, &config.database_path())?;
    let configured = Some(config.auth.initial_admin_password.expose()).filter(|p| !p.is_empty());
    match berth_auth::ensure_initial_admin(auth.db(), &config.data_dir, configured) {
        Ok(Some(admin)) => match (&admin.generated_password, &admin.password_file) {
            (Some(password), Some(file)) => tracing::warn!(
                user = %admin.user.username,
                file = %file.display(),
                "created the first admin with a generated password (shown this once; also in \
                 the file, readable by root only): {}",
                password.expose()
            ),
            _ => tracing::info!(user = %admin.user.username, "created the first admin"),
        },
        Ok(None) => {}
        Err(e) => return Err(AppError::internal("creating the first admin", e)),
    }
    Ok(auth)
}

impl App {
    /// Root (or the admin group) on the unix socket: the first admin account.
    pub fn socket_principal(&self) -> Result<Principal, AppError> {
        let admin = match self.auth.db().user_by_name(berth_auth::bootstrap::ADMIN)? {
            Some(user) if user.role == Role::Admin => user,
            _ => self
                .auth
                .db()
                .users()?
                .into_iter()
                .find(|u| u.role == Role::Admin)
                .ok_or_else(|| AppError::Internal("there is no admin account".into()))?,
        };
        Ok(Principal::socket(&admin))
    }

    /// The owner of instance `name`; `None` when there is no such instance.
    pub fn instance_owner(&self, name: &str) -> Result<Option<String>, AppError> {
        let Ok(name) = berth_types::InstanceName::parse(name) else {
            return Ok(None);
        };
        Ok(self.store.get_instance(&name)?.map(|r| r.owner))
    }

    /// The caller behind a bearer credential (API token or session JWT).
    pub fn authenticate(&self, bearer: &str) -> Result<Principal, AppError> {
        Ok(self.auth.authenticate(bearer)?)
    }

    /// `POST /auth/login`: argon2 runs off the async threads.
    pub async fn login(
        &self,
        username: String,
        password: String,
        client: ClientInfo,
    ) -> Result<IssuedSession, AppError> {
        let auth = self.auth.clone();
        tokio::task::spawn_blocking(move || auth.login(&username, &password, &client))
            .await
            .map_err(|e| AppError::internal("login task", e))?
            .map_err(AppError::from)
    }

    pub fn refresh_session(&self, refresh_token: &str) -> Result<IssuedSession, AppError> {
        Ok(self.auth.refresh(refresh_token)?)
    }

    pub fn logout(&self, principal: &Principal) -> Result<(), AppError> {
        self.auth.logout(principal)?;
        self.recheck_event_viewers();
        Ok(())
    }

    /// `GET /auth/me`: the caller's account, quota and usage.
    pub fn me(&self, principal: &Principal) -> Result<Me, AppError> {
        let user = self.user(principal.user_id)?;
        let usage = self.auth.db().usage(user.id)?;
        Ok(Me {
            user,
            scope: principal.scope,
            via: principal.via.clone(),
            usage,
            csrf_token: None,
        })
    }

    fn user(&self, id: Uuid) -> Result<User, AppError> {
        self.auth
            .db()
            .user(id)?
            .ok_or_else(|| AppError::NotFound(format!("user {id}")))
    }

    pub fn list_users(&self, caller: &Principal) -> Result<Vec<User>, AppError> {
        access::admin(caller, Want::Read)?;
        Ok(self.auth.db().users()?)
    }

    pub async fn create_user(
        &self,
        caller: &Principal,
        request: CreateUserRequest,
    ) -> Result<User, AppError> {
        access::admin(caller, Want::Write)?;
        if let Some(email) = &request.email {
            berth_auth::users::validate_email(email)?;
        }
        let auth = self.auth.clone();
        tokio::task::spawn_blocking(move || {
            let mut user = auth.db().create_user(
                &request.username,
                &request.password,
                request.role,
                request.quota,
            )?;
            if let Some(email) = &request.email {
                auth.db().set_email(user.id, Some(email))?;
                user.email = Some(email.clone());
            }
            Ok::<_, berth_auth::UserError>(user)
        })
        .await
        .map_err(|e| AppError::internal("user task", e))?
        .map_err(AppError::from)
    }

    /// An admin changes a user's role, quota or password (which ends their sessions).
    pub async fn patch_user(
        &self,
        caller: &Principal,
        id: &str,
        request: PatchUserRequest,
    ) -> Result<User, AppError> {
        access::admin(caller, Want::Write)?;
        let id = parse_id(id, "user")?;
        let user = self.user(id)?;
        if let Some(quota) = &request.quota {
            quota.validate()?;
        }
        if let Some(email) = request.email.as_deref().filter(|e| !e.is_empty()) {
            berth_auth::users::validate_email(email)?;
        }
        if let Some(password) = request.password {
            let auth = self.auth.clone();
            tokio::task::spawn_blocking(move || auth.reset_password(user.id, &password))
                .await
                .map_err(|e| AppError::internal("user task", e))??;
        }
        if let Some(role) = request.role {
            self.auth.db().set_role(id, role)?;
        }
        if let Some(quota) = request.quota {
            self.auth.db().set_quota(id, quota)?;
        }
        if let Some(email) = &request.email {
            let email = Some(email.as_str()).filter(|e| !e.is_empty());
            self.auth.db().set_email(id, email)?;
        }
        // Ended sessions and a changed role reach open event streams now.
        self.recheck_event_viewers();
        self.user(id)
    }

    /// Deletes an account that owns no instances (their machines must go, or move, first).
    pub fn delete_user(&self, caller: &Principal, id: &str) -> Result<(), AppError> {
        access::admin(caller, Want::Write)?;
        let user = self.user(parse_id(id, "user")?)?;
        let owned = self
            .store
            .list_instances()?
            .into_iter()
            .filter(|r| r.owner == user.username)
            .count();
        if owned > 0 {
            return Err(AppError::Conflict(format!(
                "user {} owns {owned} instance(s); delete them first",
                user.username
            )));
        }
        self.auth.db().delete_user(user.id)?;
        self.recheck_event_viewers();
        Ok(())
    }

    /// `POST /users/me/password`: proves the current password; other sessions end.
    pub async fn change_own_password(
        &self,
        principal: &Principal,
        request: ChangePasswordRequest,
        client: ClientInfo,
    ) -> Result<(), AppError> {
        access::own(principal, Want::Write)?;
        let auth = self.auth.clone();
        let principal = principal.clone();
        tokio::task::spawn_blocking(move || {
            auth.change_own_password(
                &principal,
                &request.current_password,
                &request.new_password,
                &client,
            )
        })
        .await
        .map_err(|e| AppError::internal("password task", e))??;
        self.recheck_event_viewers();
        Ok(())
    }

    /// The caller's tokens; an admin sees everyone's.
    pub fn list_tokens(&self, principal: &Principal) -> Result<Vec<ApiToken>, AppError> {
        let whose = (!principal.is_admin()).then_some(principal.user_id);
        Ok(self.auth.db().tokens(whose)?)
    }

    /// A new token for the caller. A token never grants more than the credential that made it.
    pub fn create_token(
        &self,
        principal: &Principal,
        request: CreateTokenRequest,
    ) -> Result<CreatedTokenResponse, AppError> {
        access::own(principal, Want::Write)?;
        let expires_at = request.expiry()?;
        let created = self.auth.db().create_token(
            principal.user_id,
            &request.name,
            request.scope,
            expires_at,
        )?;
        Ok(CreatedTokenResponse {
            token: created.token,
            secret: created.secret.expose().to_owned(),
        })
    }

    /// Revokes one of the caller's tokens (an admin: anyone's); someone else's is 404.
    pub fn revoke_token(&self, principal: &Principal, id: &str) -> Result<(), AppError> {
        access::own(principal, Want::Write)?;
        let id = parse_id(id, "token")?;
        let whose = (!principal.is_admin()).then_some(principal.user_id);
        self.auth.db().revoke_token(id, whose)?;
        self.recheck_event_viewers();
        Ok(())
    }

    /// `GET /audit`: an admin reads everything, a user their own entries.
    pub fn audit(
        &self,
        principal: &Principal,
        mut filter: AuditFilter,
    ) -> Result<Vec<AuditEntry>, AppError> {
        if !principal.is_admin() {
            filter.user_id = Some(principal.user_id);
        }
        Ok(self.auth.db().audit(&filter)?)
    }

    /// Appends to the audit log; a failure is logged, never fatal to the request.
    pub fn record_audit(&self, entry: &NewAuditEntry<'_>) {
        if let Err(e) = self.auth.db().append_audit(entry) {
            tracing::error!(action = entry.action, error = %e, "cannot write the audit log");
        }
    }

    /// Deletes expired sessions and audit entries past retention, hourly.
    pub(super) fn spawn_auth_pruner(self: &Arc<Self>) {
        let app = Arc::downgrade(self);
        tokio::spawn(async move {
            loop {
                let Some(app) = app.upgrade() else { return };
                let now = chrono::Utc::now();
                let days = i64::from(app.config.auth.audit_retention_days);
                let audit_before = now - chrono::Duration::days(days);
                match app.auth.prune(now, audit_before) {
                    Ok((sessions, entries)) if sessions + entries > 0 => {
                        tracing::info!(
                            sessions,
                            entries,
                            "pruned expired sessions and audit entries"
                        )
                    }
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "pruning sessions and audit entries"),
                }
                drop(app);
                tokio::time::sleep(PRUNE_EVERY).await;
            }
        });
    }
}

/// Derives per-session CSRF tokens from a key only this daemon knows.
#[derive(Clone)]
pub struct CsrfKey([u8; 32]);

impl CsrfKey {
    pub fn random() -> Self {
        Self(rand::random())
    }

    /// The CSRF token of a session.
    pub fn token(&self, session: Uuid) -> String {
        let mut hash = Sha256::new();
        hash.update(self.0);
        hash.update(session.as_bytes());
        URL_SAFE_NO_PAD.encode(hash.finalize())
    }

    /// Whether `presented` is the session's token (constant time).
    pub fn verify(&self, session: Uuid, presented: &str) -> bool {
        constant_time_eq(self.token(session).as_bytes(), presented.as_bytes())
    }
}

fn parse_id(raw: &str, what: &str) -> Result<Uuid, AppError> {
    Uuid::parse_str(raw).map_err(|_| AppError::NotFound(format!("{what} {raw}")))
}

/// Checks a requested owner for a new instance: only admins act for someone else.
pub(crate) fn owner_for_create(
    app: &App,
    principal: &Principal,
    requested: Option<&str>,
) -> Result<String, AppError> {
    match requested {
        None => Ok(principal.username.clone()),
        Some(owner) if owner == principal.username => Ok(owner.to_owned()),
        Some(owner) if principal.is_admin() => match app.auth.db().user_by_name(owner)? {
            Some(user) => Ok(user.username),
            None => Err(FieldError::new("owner", format!("there is no user {owner:?}")).into()),
        },
        Some(_) => Err(AppError::Forbidden(
            "only an admin may create an instance for another user".into(),
        )),
    }
}
