//! `berth alert rule list|add|remove`, `berth alert events`, `berth alert test EMAIL`.

use berth_types::metrics::{
    AlertEvent, AlertRule, AlertRuleCreate, AlertScope, AlertTestRequest, AlertTestResult,
};
use clap::{Args, Subcommand};

use super::Context;
use crate::output::{self, Format};

#[derive(Subcommand)]
pub enum AlertCommand {
    /// Alert rules.
    #[command(subcommand)]
    Rule(RuleCommand),
    /// Firing and resolved alerts, newest first.
    Events {
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
    /// Send a test email through the daemon's [alerts.smtp] server (admins).
    Test { email: String },
}

#[derive(Subcommand)]
pub enum RuleCommand {
    #[command(alias = "ls")]
    List,
    /// Add a rule: e.g. `--metric cpu_percent --threshold 90 --for 5m --instance web1`.
    Add(AddArgs),
    /// Remove a rule by id.
    #[command(alias = "rm")]
    Remove { id: String },
}

#[derive(Args)]
pub struct AddArgs {
    /// cpu_percent, memory_percent, disk_percent (of the limits), net_rx_bytes_per_s,
    /// net_tx_bytes_per_s or processes.
    #[arg(long)]
    metric: String,
    #[arg(long)]
    threshold: f64,
    /// Fire when the value is below the threshold (default: above).
    #[arg(long)]
    below: bool,
    /// How long the condition must hold: 30s, 5m, 1h (default 5m).
    #[arg(long = "for", value_name = "DURATION")]
    for_duration: Option<String>,
    /// Watch one instance.
    #[arg(long, conflicts_with = "user")]
    instance: Option<String>,
    /// Watch every instance of a user.
    #[arg(long)]
    user: Option<String>,
    #[arg(long)]
    name: Option<String>,
    /// Also POST the alert as JSON to this http:// URL.
    #[arg(long)]
    webhook: Option<String>,
    /// No email, only the event (and the webhook).
    #[arg(long)]
    no_email: bool,
    /// At most one notification per instance this often: 1h (default), 30m.
    #[arg(long)]
    throttle: Option<String>,
}

/// `30s`, `5m`, `2h`, `1d` or plain seconds.
fn seconds(raw: &str, what: &str) -> anyhow::Result<u64> {
    let (number, unit) = match raw.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => (&raw[..i], c),
        _ => (raw, 's'),
    };
    let n: u64 = number
        .parse()
        .map_err(|_| anyhow::anyhow!("{what}: {raw:?} is not a duration; use e.g. 30s, 5m, 1h"))?;
    let factor = match unit {
        's' => 1,
        'm' => 60,
        'h' => 3600,
        'd' => 86_400,
        _ => anyhow::bail!("{what}: {raw:?} has an unknown unit; use s, m, h or d"),
    };
    Ok(n * factor)
}

fn scope(s: &AlertScope) -> String {
    match s {
        AlertScope::Instance(n) => format!("instance {n}"),
        AlertScope::User(u) => format!("user {u}"),
        AlertScope::All => "all".to_owned(),
    }
}

pub async fn run(ctx: &Context, command: AlertCommand) -> anyhow::Result<()> {
    match command {
        AlertCommand::Rule(RuleCommand::List) => {
            let rules: Vec<AlertRule> = ctx.client.get("/alerts/rules").await?;
            if ctx.format == Format::Json {
                return output::json(&rules);
            }
            let rows: Vec<Vec<String>> = rules
                .iter()
                .map(|r| {
                    vec![
                        r.id.clone(),
                        r.name.clone(),
                        format!(
                            "{} {} {}",
                            r.metric.as_str(),
                            r.comparison.as_str(),
                            r.threshold
                        ),
                        format!("{}s", r.for_seconds),
                        scope(&r.scope),
                        r.owner.clone(),
                        if r.enabled { "yes" } else { "no" }.to_owned(),
                    ]
                })
                .collect();
            output::table(
                &[
                    "ID",
                    "NAME",
                    "CONDITION",
                    "FOR",
                    "SCOPE",
                    "OWNER",
                    "ENABLED",
                ],
                &rows,
            );
            Ok(())
        }
        AlertCommand::Rule(RuleCommand::Add(a)) => {
            let body = AlertRuleCreate {
                name: a.name,
                metric: a.metric,
                comparison: Some(if a.below { "<" } else { ">" }.to_owned()),
                threshold: a.threshold,
                for_seconds: a.for_duration.map(|d| seconds(&d, "--for")).transpose()?,
                scope: Some(match (a.instance, a.user) {
                    (Some(i), _) => AlertScope::Instance(i),
                    (None, Some(u)) => AlertScope::User(u),
                    (None, None) => AlertScope::All,
                }),
                email: Some(!a.no_email),
                webhook: a.webhook,
                throttle_seconds: a.throttle.map(|t| seconds(&t, "--throttle")).transpose()?,
                enabled: None,
            };
            let rule: AlertRule = ctx.client.post("/alerts/rules", &body).await?;
            if ctx.format == Format::Json {
                return output::json(&rule);
            }
            println!("{}", rule.id);
            Ok(())
        }
        AlertCommand::Rule(RuleCommand::Remove { id }) => {
            let _: serde_json::Value = ctx
                .client
                .delete(&format!("/alerts/rules/{id}"), &())
                .await?;
            Ok(())
        }
        AlertCommand::Events { limit } => {
            let events: Vec<AlertEvent> = ctx
                .client
                .get(&format!("/alerts/events?limit={limit}"))
                .await?;
            if ctx.format == Format::Json {
                return output::json(&events);
            }
            let rows: Vec<Vec<String>> = events
                .iter()
                .map(|e| {
                    vec![
                        chrono::DateTime::from_timestamp(e.time, 0)
                            .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
                            .unwrap_or_default(),
                        format!("{:?}", e.state).to_lowercase(),
                        e.instance.clone(),
                        e.rule_name.clone(),
                        format!("{}", e.value),
                        notified(e),
                    ]
                })
                .collect();
            output::table(
                &["TIME", "STATE", "INSTANCE", "RULE", "VALUE", "NOTIFIED"],
                &rows,
            );
            Ok(())
        }
        AlertCommand::Test { email } => {
            let result: AlertTestResult = ctx
                .client
                .post(
                    "/alerts/test",
                    &AlertTestRequest {
                        email: email.clone(),
                    },
                )
                .await?;
            if ctx.format == Format::Json {
                return output::json(&result);
            }
            match result.error {
                None => println!("sent a test email to {email}"),
                Some(e) => anyhow::bail!("the SMTP server did not take the test email: {e}"),
            }
            Ok(())
        }
    }
}

/// What became of an event's notifications: per channel, sent, failed or skipped.
fn notified(e: &AlertEvent) -> String {
    use berth_types::metrics::DeliveryStatus;
    match (&e.deliveries, e.notified) {
        (_, false) => "throttled".to_owned(),
        (None, true) => match &e.error {
            Some(err) => format!("failed: {err}"),
            None => "sending".to_owned(),
        },
        (Some(list), true) if list.is_empty() => "no channel".to_owned(),
        (Some(list), true) => list
            .iter()
            .map(|d| {
                let status = match d.status {
                    DeliveryStatus::Sent => "sent",
                    DeliveryStatus::Failed => "failed",
                    DeliveryStatus::Skipped => "skipped",
                };
                format!("{} {status}", d.channel.as_str())
            })
            .collect::<Vec<_>>()
            .join(", "),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn durations() {
        assert_eq!(super::seconds("5m", "x").ok(), Some(300));
        assert_eq!(super::seconds("90", "x").ok(), Some(90));
        assert!(super::seconds("5y", "x").is_err());
    }
}
