//! Delivering an alert: email to the owners (when the rule wants it and SMTP is configured)
//! and the rule's webhook. Delivery errors are logged and kept on the event.

use std::sync::Arc;

use berth_metrics::alerts::{Transition, message, webhook};

use crate::app::App;
use crate::app::error::error_chain;

impl App {
    pub(super) async fn notify(self: &Arc<Self>, t: &Transition, mut emails: Vec<String>) {
        emails.sort();
        emails.dedup();
        let (subject, body) = message(t);
        let mut errors = Vec::new();
        if t.rule.email {
            match &self.metrics.smtp {
                Some(smtp) => {
                    for to in &emails {
                        if let Err(e) = smtp.send(to, &subject, body.clone()).await {
                            errors.push(format!("email to {to}: {}", error_chain(&e)));
                        }
                    }
                }
                None if !emails.is_empty() => {
                    errors.push("email: no [alerts.smtp] configured".to_owned());
                }
                None => {}
            }
        }
        if let Some(url) = &t.rule.webhook {
            let payload = serde_json::json!({
                "event": t.event,
                "rule": t.rule,
                "instance_owner": t.instance_owner,
                "subject": subject,
            });
            if let Err(e) = webhook::post(url, &payload).await {
                errors.push(format!("webhook: {}", error_chain(&e)));
            }
        }
        if !errors.is_empty() {
            let text = errors.join("; ");
            tracing::warn!(rule = %t.rule.id, instance = %t.event.instance, error = %text, "alert delivery failed");
            let _ = self.metrics.alerts.store.set_event_error(t.event.id, &text);
        }
    }
}
