//! Alert rules and events as users see them (their own; admins all), evaluation after each
//! tick, and the test email.

use std::collections::HashMap;
use std::sync::Arc;

use berth_auth::{Role, User};
use berth_metrics::alerts::rules;
use berth_metrics::collector::Tick;
use berth_types::FieldError;
use berth_types::metrics::{
    AlertEvent, AlertRule, AlertRuleCreate, AlertRulePatch, AlertScope, AlertTestResult,
};

use crate::app::access::{self, Want};
use crate::app::error::error_chain;
use crate::app::{App, AppError, Principal};

/// Most events one `GET /alerts/events` returns.
pub const MAX_EVENTS: u32 = 1000;

impl App {
    pub fn alert_rules(&self, caller: &Principal) -> Result<Vec<AlertRule>, AppError> {
        let all = self.metrics.alerts.store.rules()?;
        Ok(all
            .into_iter()
            .filter(|r| caller.can_read(&r.owner))
            .collect())
    }

    pub fn create_alert_rule(
        &self,
        caller: &Principal,
        body: &AlertRuleCreate,
    ) -> Result<AlertRule, AppError> {
        caller.authorize_write(&caller.username)?;
        let rule = rules::create(&caller.username, body)?;
        self.check_scope(caller, &rule.scope)?;
        self.metrics
            .alerts
            .store
            .insert(&rule, chrono::Utc::now().timestamp())?;
        Ok(rule)
    }

    /// A user's rule watches their own things: their instances, or themselves.
    fn check_scope(&self, caller: &Principal, scope: &AlertScope) -> Result<(), AppError> {
        match scope {
            AlertScope::All => Ok(()),
            AlertScope::User(user) if caller.is_admin() || *user == caller.username => Ok(()),
            AlertScope::User(_) => Err(FieldError::new(
                "scope.value",
                "you can watch only your own instances; use your username or scope all",
            )
            .into()),
            AlertScope::Instance(name) => match self.instance_owner(name)? {
                Some(owner) if caller.can_read(&owner) => Ok(()),
                _ => Err(FieldError::new(
                    "scope.value",
                    format!("no instance {name} of yours; name one of your instances"),
                )
                .into()),
            },
        }
    }

    fn visible_rule(&self, caller: &Principal, id: &str) -> Result<AlertRule, AppError> {
        match self.metrics.alerts.store.get(id)? {
            Some(rule) if caller.can_read(&rule.owner) => Ok(rule),
            _ => Err(AppError::NotFound(format!("alert rule {id}"))),
        }
    }

    pub fn patch_alert_rule(
        &self,
        caller: &Principal,
        id: &str,
        patch: &AlertRulePatch,
    ) -> Result<AlertRule, AppError> {
        let rule = self.visible_rule(caller, id)?;
        caller.authorize_write(&rule.owner)?;
        let next = rules::patch(&rule, patch)?;
        self.metrics.alerts.store.update(&next)?;
        Ok(next)
    }

    pub fn delete_alert_rule(&self, caller: &Principal, id: &str) -> Result<(), AppError> {
        let rule = self.visible_rule(caller, id)?;
        caller.authorize_write(&rule.owner)?;
        self.metrics.alerts.store.delete(&rule.id)?;
        Ok(())
    }

    /// Newest first; a user sees the events of their rules.
    pub fn alert_events(
        &self,
        caller: &Principal,
        limit: Option<u32>,
    ) -> Result<Vec<AlertEvent>, AppError> {
        let limit = limit.unwrap_or(100).clamp(1, MAX_EVENTS);
        let owner = (!caller.is_admin()).then_some(caller.username.as_str());
        Ok(self.metrics.alerts.store.events(owner, limit)?)
    }

    /// Sends a test email through `[alerts.smtp]`; the SMTP error comes back in the answer.
    pub async fn send_test_email(
        &self,
        caller: &Principal,
        email: &str,
    ) -> Result<AlertTestResult, AppError> {
        access::admin(caller, Want::Write)?;
        berth_auth::users::validate_email(email)?;
        berth_metrics::alerts::email::mailbox(email, "email")?;
        let smtp = self.metrics.smtp.as_ref().ok_or_else(|| {
            AppError::Invalid(FieldError::new(
                "alerts.smtp",
                "no SMTP server is configured; add [alerts.smtp] host and from to berth.toml",
            ))
        })?;
        let body = "This is a test message from Berth: alert email reaches you.\n".to_owned();
        match smtp.send(email, "[berth] test email", body).await {
            Ok(()) => Ok(AlertTestResult {
                sent: true,
                error: None,
            }),
            Err(e) => Ok(AlertTestResult {
                sent: false,
                error: Some(error_chain(&e)),
            }),
        }
    }

    /// Evaluates the rules against `tick` and sends the notifications in the background.
    pub(crate) async fn evaluate_alerts(self: &Arc<Self>, tick: &Arc<Tick>) {
        let users: HashMap<String, User> = match self.auth.db().users() {
            Ok(users) => users.into_iter().map(|u| (u.username.clone(), u)).collect(),
            Err(e) => {
                tracing::error!(error = %error_chain(&e), "cannot read users for alerts");
                return;
            }
        };
        let app = self.clone();
        let tick = tick.clone();
        let result = tokio::task::spawn_blocking(move || {
            let is_admin = |u: &str| users.get(u).is_some_and(|u| u.role == Role::Admin);
            let out = app
                .metrics
                .alerts
                .evaluate(tick.time, &tick.instances, &is_admin);
            (out, users)
        })
        .await;
        let (transitions, users) = match result {
            Ok((Ok(t), users)) => (t, users),
            Ok((Err(e), _)) => {
                tracing::error!(error = %error_chain(&e), "alert evaluation failed");
                return;
            }
            Err(e) => {
                tracing::error!(error = %e, "alert task failed");
                return;
            }
        };
        for t in transitions {
            tracing::info!(rule = %t.rule.id, instance = %t.event.instance, state = ?t.event.state,
                value = t.event.value, notified = t.event.notified, "alert");
            if !t.event.notified {
                continue;
            }
            let emails: Vec<String> = [&t.rule.owner, &t.instance_owner]
                .into_iter()
                .filter_map(|u| users.get(u.as_str())?.email.clone())
                .collect();
            let app = self.clone();
            tokio::spawn(async move { app.notify(&t, emails).await });
        }
    }
}
