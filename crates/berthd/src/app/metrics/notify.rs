//! Delivering an alert: email to the owners (when the rule wants it and SMTP is configured)
//! and the rule's webhook. What was attempted, per channel and recipient, and how it went is
//! kept on the event (and failures logged).

use std::sync::Arc;

use berth_metrics::alerts::{Transition, message, webhook};
use berth_types::metrics::{AlertChannel, AlertDelivery, DeliveryStatus};

use crate::app::App;
use crate::app::error::error_chain;

fn delivery(
    channel: AlertChannel,
    to: Option<&str>,
    status: DeliveryStatus,
    detail: Option<String>,
) -> AlertDelivery {
    AlertDelivery {
        channel,
        to: to.map(str::to_owned),
        status,
        detail,
    }
}

impl App {
    pub(super) async fn notify(self: &Arc<Self>, t: &Transition, mut emails: Vec<String>) {
        emails.sort();
        emails.dedup();
        let (subject, body) = message(t);
        let mut done = Vec::new();
        let email = AlertChannel::Email;
        if t.rule.email {
            match &self.metrics.smtp {
                _ if emails.is_empty() => done.push(delivery(
                    email,
                    None,
                    DeliveryStatus::Skipped,
                    Some("neither the rule's nor the instance's owner has an email address".into()),
                )),
                Some(smtp) => {
                    for to in &emails {
                        let result = smtp.send(to, &subject, body.clone()).await;
                        done.push(match result {
                            Ok(()) => delivery(email, Some(to), DeliveryStatus::Sent, None),
                            Err(e) => delivery(
                                email,
                                Some(to),
                                DeliveryStatus::Failed,
                                Some(error_chain(&e)),
                            ),
                        });
                    }
                }
                None => {
                    for to in &emails {
                        done.push(delivery(
                            email,
                            Some(to),
                            DeliveryStatus::Skipped,
                            Some("no SMTP server is configured ([alerts.smtp])".into()),
                        ));
                    }
                }
            }
        }
        if let Some(url) = &t.rule.webhook {
            let payload = serde_json::json!({
                "event": t.event,
                "rule": t.rule,
                "instance_owner": t.instance_owner,
                "subject": subject,
            });
            let hook = AlertChannel::Webhook;
            done.push(match webhook::post(url, &payload).await {
                Ok(()) => delivery(hook, Some(url), DeliveryStatus::Sent, None),
                Err(e) => delivery(
                    hook,
                    Some(url),
                    DeliveryStatus::Failed,
                    Some(error_chain(&e)),
                ),
            });
        }
        for failed in done.iter().filter(|d| d.status == DeliveryStatus::Failed) {
            tracing::warn!(rule = %t.rule.id, instance = %t.event.instance, channel = failed.channel.as_str(),
                to = failed.to.as_deref().unwrap_or(""), error = failed.detail.as_deref().unwrap_or(""), "alert delivery failed");
        }
        if let Err(e) = self
            .metrics
            .alerts
            .store
            .set_event_deliveries(t.event.id, done)
        {
            tracing::warn!(rule = %t.rule.id, error = %error_chain(&e), "cannot record alert deliveries");
        }
    }
}
