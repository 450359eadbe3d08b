//! Alert rules: validation of a new rule or a change, the defaults, and what value a sample
//! gives a rule's metric.

use berth_types::FieldError;
use berth_types::metrics::{
    AlertMetric, AlertRule, AlertRuleCreate, AlertRulePatch, AlertScope, Comparison,
};

use crate::collector::InstanceSample;

/// Default for-duration and throttle, seconds.
pub const DEFAULT_FOR: u64 = 300;
pub const DEFAULT_THROTTLE: u64 = 3600;
/// Longest for-duration and throttle accepted: a week.
const MAX_SECONDS: u64 = 7 * 86_400;

/// The rules a fresh installation starts with, owned by `admin`: CPU, memory and disk above
/// 90 % for 5 minutes, on every instance.
pub fn defaults(admin: &str) -> Vec<AlertRule> {
    [
        ("cpu above 90%", AlertMetric::CpuPercent),
        ("memory above 90%", AlertMetric::MemoryPercent),
        ("disk above 90%", AlertMetric::DiskPercent),
    ]
    .into_iter()
    .map(|(name, metric)| AlertRule {
        id: uuid::Uuid::new_v4().to_string(),
        owner: admin.to_owned(),
        name: name.to_owned(),
        metric,
        comparison: Comparison::Above,
        threshold: 90.0,
        for_seconds: DEFAULT_FOR,
        scope: AlertScope::All,
        email: true,
        webhook: None,
        throttle_seconds: DEFAULT_THROTTLE,
        enabled: true,
    })
    .collect()
}

fn comparison(raw: &str) -> Result<Comparison, FieldError> {
    match raw {
        ">" | "above" | "gt" => Ok(Comparison::Above),
        "<" | "below" | "lt" => Ok(Comparison::Below),
        _ => Err(FieldError::new(
            "comparison",
            format!("{raw:?} is not a comparison; use > or <"),
        )),
    }
}

fn check_threshold(metric: AlertMetric, threshold: f64) -> Result<(), FieldError> {
    let ok =
        threshold.is_finite() && threshold >= 0.0 && (!metric.is_percent() || threshold <= 100.0);
    if ok {
        return Ok(());
    }
    let range = if metric.is_percent() {
        "0 to 100 (percent)"
    } else {
        "0 or more"
    };
    Err(FieldError::new(
        "threshold",
        format!(
            "{threshold} is out of range for {}; use {range}",
            metric.as_str()
        ),
    ))
}

fn check_seconds(value: u64, field: &str) -> Result<u64, FieldError> {
    if value > MAX_SECONDS {
        return Err(FieldError::new(
            field,
            format!("{value} is more than a week ({MAX_SECONDS} s)"),
        ));
    }
    Ok(value)
}

fn check_name(name: &str) -> Result<String, FieldError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(FieldError::new(
            "name",
            "give the rule a name of 1-100 characters",
        ));
    }
    Ok(name.to_owned())
}

/// A webhook must be a plain `http://host[:port]/path` URL (TLS webhooks are not supported).
pub fn check_webhook(url: &str) -> Result<(), FieldError> {
    crate::alerts::webhook::parse(url)
        .map(|_| ())
        .map_err(|message| FieldError::new("webhook", message))
}

fn check_scope(scope: &AlertScope) -> Result<(), FieldError> {
    match scope {
        AlertScope::Instance(name) => berth_types::InstanceName::parse(name)
            .map(|_| ())
            .map_err(|e| FieldError::new("scope.value", e.message)),
        AlertScope::User(user) if user.trim().is_empty() => {
            Err(FieldError::new("scope.value", "name the user"))
        }
        _ => Ok(()),
    }
}

/// A new rule for `owner` from a request; errors name the field.
pub fn create(owner: &str, body: &AlertRuleCreate) -> Result<AlertRule, FieldError> {
    let metric = AlertMetric::parse(&body.metric, "metric")?;
    let comparison = comparison(body.comparison.as_deref().unwrap_or(">"))?;
    check_threshold(metric, body.threshold)?;
    let scope = body.scope.clone().unwrap_or(AlertScope::All);
    check_scope(&scope)?;
    if let Some(url) = &body.webhook {
        check_webhook(url)?;
    }
    let name = match &body.name {
        Some(name) => check_name(name)?,
        None => format!(
            "{} {} {}",
            metric.as_str(),
            comparison.as_str(),
            body.threshold
        ),
    };
    Ok(AlertRule {
        id: uuid::Uuid::new_v4().to_string(),
        owner: owner.to_owned(),
        name,
        metric,
        comparison,
        threshold: body.threshold,
        for_seconds: check_seconds(body.for_seconds.unwrap_or(DEFAULT_FOR), "for_seconds")?,
        scope,
        email: body.email.unwrap_or(true),
        webhook: body.webhook.clone().filter(|w| !w.is_empty()),
        throttle_seconds: check_seconds(
            body.throttle_seconds.unwrap_or(DEFAULT_THROTTLE),
            "throttle_seconds",
        )?,
        enabled: body.enabled.unwrap_or(true),
    })
}

/// `rule` with `patch` applied, or the first bad field (then nothing changes).
pub fn patch(rule: &AlertRule, patch: &AlertRulePatch) -> Result<AlertRule, FieldError> {
    let mut next = rule.clone();
    if let Some(name) = &patch.name {
        next.name = check_name(name)?;
    }
    if let Some(c) = &patch.comparison {
        next.comparison = comparison(c)?;
    }
    if let Some(t) = patch.threshold {
        check_threshold(next.metric, t)?;
        next.threshold = t;
    }
    if let Some(f) = patch.for_seconds {
        next.for_seconds = check_seconds(f, "for_seconds")?;
    }
    if let Some(t) = patch.throttle_seconds {
        next.throttle_seconds = check_seconds(t, "throttle_seconds")?;
    }
    if let Some(e) = patch.email {
        next.email = e;
    }
    if let Some(e) = patch.enabled {
        next.enabled = e;
    }
    if let Some(url) = &patch.webhook {
        if url.is_empty() {
            next.webhook = None;
        } else {
            check_webhook(url)?;
            next.webhook = Some(url.clone());
        }
    }
    Ok(next)
}

/// The rule's metric in a sample: CPU as percent of the instance's CPU limit (of one core when
/// unlimited), memory and disk as percent of their limits (none without a limit).
pub fn value(metric: AlertMetric, s: &InstanceSample) -> Option<f64> {
    let p = &s.point;
    let percent = |used: Option<f64>, limit: Option<f64>| match (used, limit) {
        (Some(u), Some(l)) if l > 0.0 => Some(u / l * 100.0),
        _ => None,
    };
    match metric {
        AlertMetric::CpuPercent => p.cpu_percent.map(|c| c / s.cpu_limit.unwrap_or(1.0)),
        AlertMetric::MemoryPercent => percent(p.memory_bytes, p.memory_limit_bytes),
        AlertMetric::DiskPercent => percent(p.disk_bytes, p.disk_limit_bytes),
        AlertMetric::NetRxBytesPerS => p.net_rx_bytes_per_s,
        AlertMetric::NetTxBytesPerS => p.net_tx_bytes_per_s,
        AlertMetric::Processes => p.processes,
    }
}

/// Whether `rule` watches instance `name` of `owner`; `owner_is_admin` says whether the rule's
/// owner sees every instance.
pub fn applies(rule: &AlertRule, name: &str, owner: &str, rule_owner_is_admin: bool) -> bool {
    let visible = rule_owner_is_admin || rule.owner == owner;
    visible
        && match &rule.scope {
            AlertScope::Instance(n) => n == name,
            AlertScope::User(u) => u == owner,
            AlertScope::All => true,
        }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_input_names_the_field() {
        let body = |metric: &str, threshold: f64| AlertRuleCreate {
            metric: metric.into(),
            threshold,
            ..AlertRuleCreate::default()
        };
        let field = |r: Result<AlertRule, FieldError>| r.err().map(|e| e.field);
        assert_eq!(
            field(create("a", &body("load", 1.0))),
            Some("metric".into())
        );
        assert_eq!(
            field(create("a", &body("cpu_percent", 101.0))),
            Some("threshold".into())
        );
        assert_eq!(
            field(create("a", &body("processes", -1.0))),
            Some("threshold".into())
        );
        let mut b = body("cpu_percent", 50.0);
        b.webhook = Some("ftp://x".into());
        assert_eq!(field(create("a", &b)), Some("webhook".into()));
        b.webhook = None;
        b.for_seconds = Some(10_000_000);
        assert_eq!(field(create("a", &b)), Some("for_seconds".into()));
        b.for_seconds = None;
        let rule = create("a", &b).expect("valid");
        assert_eq!((rule.for_seconds, rule.throttle_seconds), (300, 3600));
        let p = AlertRulePatch {
            threshold: Some(200.0),
            ..AlertRulePatch::default()
        };
        assert_eq!(
            patch(&rule, &p).err().map(|e| e.field),
            Some("threshold".into())
        );
    }

    #[test]
    fn scope() {
        let mut rule = defaults("admin").remove(0);
        assert!(applies(&rule, "web1", "bob", true));
        rule.owner = "alice".into();
        assert!(!applies(&rule, "web1", "bob", false));
        assert!(applies(&rule, "web1", "alice", false));
        rule.scope = AlertScope::Instance("web2".into());
        assert!(!applies(&rule, "web1", "alice", false));
    }
}
