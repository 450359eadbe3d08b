//! Metrics history and alert types as the API shows them: a point (one bucket of one instance or
//! the host), the timeframes and consolidation functions a history is asked for, and alert
//! rules and events.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::FieldError;

/// One bucket of samples (or one live sample). Any field is `null` when there was no data.
/// `cpu_percent` is percent of one core (100 = one core busy).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct MetricsPoint {
    /// Start of the bucket, unix seconds.
    pub time: i64,
    pub cpu_percent: Option<f64>,
    pub memory_bytes: Option<f64>,
    pub memory_limit_bytes: Option<f64>,
    pub memory_cache_bytes: Option<f64>,
    pub disk_bytes: Option<f64>,
    pub disk_limit_bytes: Option<f64>,
    pub net_rx_bytes_per_s: Option<f64>,
    pub net_tx_bytes_per_s: Option<f64>,
    pub processes: Option<f64>,
}

/// `GET /instances/{name}/metrics` and `GET /system/metrics`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct MetricsHistory {
    pub timeframe: Timeframe,
    pub cf: Cf,
    /// Seconds per point.
    pub resolution: i64,
    pub points: Vec<MetricsPoint>,
}

/// How far back a history reaches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Timeframe {
    Hour,
    Day,
    Week,
    Month,
    Year,
    /// Ten years at one-week resolution (beyond the contract's five, like Proxmox's decade).
    Decade,
}

impl Timeframe {
    pub const ALL: [Timeframe; 6] = [
        Timeframe::Hour,
        Timeframe::Day,
        Timeframe::Week,
        Timeframe::Month,
        Timeframe::Year,
        Timeframe::Decade,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Timeframe::Hour => "hour",
            Timeframe::Day => "day",
            Timeframe::Week => "week",
            Timeframe::Month => "month",
            Timeframe::Year => "year",
            Timeframe::Decade => "decade",
        }
    }

    /// Seconds covered.
    pub fn span(self) -> i64 {
        match self {
            Timeframe::Hour => 3600,
            Timeframe::Day => 86_400,
            Timeframe::Week => 7 * 86_400,
            Timeframe::Month => 30 * 86_400,
            Timeframe::Year => 365 * 86_400,
            Timeframe::Decade => 3652 * 86_400,
        }
    }

    /// Parses a query value; the error names `field`.
    pub fn parse(raw: &str, field: &str) -> Result<Self, FieldError> {
        Self::ALL
            .into_iter()
            .find(|t| t.as_str() == raw)
            .ok_or_else(|| {
                FieldError::new(
                    field,
                    format!(
                        "{raw:?} is not a timeframe; use hour, day, week, month, year or decade"
                    ),
                )
            })
    }
}

/// Consolidation function: the average or the maximum of the samples in a bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Cf {
    Avg,
    Max,
}

impl Cf {
    pub fn as_str(self) -> &'static str {
        match self {
            Cf::Avg => "avg",
            Cf::Max => "max",
        }
    }

    pub fn parse(raw: &str, field: &str) -> Result<Self, FieldError> {
        match raw {
            "avg" => Ok(Cf::Avg),
            "max" => Ok(Cf::Max),
            _ => Err(FieldError::new(
                field,
                format!("{raw:?} is not a consolidation function; use avg or max"),
            )),
        }
    }
}

/// What an alert rule watches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AlertMetric {
    /// Percent of the instance's CPU limit (of one core without a limit).
    CpuPercent,
    /// Percent of the memory limit.
    MemoryPercent,
    /// Percent of the disk limit.
    DiskPercent,
    /// Guest receive rate, bytes per second.
    NetRxBytesPerS,
    /// Guest transmit rate, bytes per second.
    NetTxBytesPerS,
    /// Number of processes.
    Processes,
}

impl AlertMetric {
    pub const ALL: [AlertMetric; 6] = [
        AlertMetric::CpuPercent,
        AlertMetric::MemoryPercent,
        AlertMetric::DiskPercent,
        AlertMetric::NetRxBytesPerS,
        AlertMetric::NetTxBytesPerS,
        AlertMetric::Processes,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AlertMetric::CpuPercent => "cpu_percent",
            AlertMetric::MemoryPercent => "memory_percent",
            AlertMetric::DiskPercent => "disk_percent",
            AlertMetric::NetRxBytesPerS => "net_rx_bytes_per_s",
            AlertMetric::NetTxBytesPerS => "net_tx_bytes_per_s",
            AlertMetric::Processes => "processes",
        }
    }

    pub fn parse(raw: &str, field: &str) -> Result<Self, FieldError> {
        Self::ALL
            .into_iter()
            .find(|m| m.as_str() == raw)
            .ok_or_else(|| {
                let known: Vec<&str> = Self::ALL.iter().map(|m| m.as_str()).collect();
                FieldError::new(
                    field,
                    format!("{raw:?} is not a metric; use one of {}", known.join(", ")),
                )
            })
    }

    /// Whether the metric is a percentage (thresholds 0–100).
    pub fn is_percent(self) -> bool {
        matches!(
            self,
            AlertMetric::CpuPercent | AlertMetric::MemoryPercent | AlertMetric::DiskPercent
        )
    }
}

/// `>` or `<`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub enum Comparison {
    #[serde(rename = ">")]
    Above,
    #[serde(rename = "<")]
    Below,
}

impl Comparison {
    pub fn as_str(self) -> &'static str {
        match self {
            Comparison::Above => ">",
            Comparison::Below => "<",
        }
    }

    pub fn holds(self, value: f64, threshold: f64) -> bool {
        match self {
            Comparison::Above => value > threshold,
            Comparison::Below => value < threshold,
        }
    }
}

/// Which instances a rule watches.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "kind", content = "value", rename_all = "lowercase")]
pub enum AlertScope {
    /// One instance, by name.
    Instance(String),
    /// Every instance of one user, by username.
    User(String),
    /// Every instance the rule's owner may see (all of them for an admin).
    All,
}

/// An alert rule as the API shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AlertRule {
    pub id: String,
    /// The user it belongs to; notifications go to them and the instance's owner.
    pub owner: String,
    pub name: String,
    pub metric: AlertMetric,
    pub comparison: Comparison,
    pub threshold: f64,
    /// Seconds the condition must hold before the alert fires.
    pub for_seconds: u64,
    pub scope: AlertScope,
    /// Email the owner(s) of the instance (and the rule's owner).
    pub email: bool,
    /// POST a JSON body here on firing and resolving; http:// only.
    pub webhook: Option<String>,
    /// At most one notification per rule and instance in this many seconds.
    pub throttle_seconds: u64,
    pub enabled: bool,
}

/// `POST /alerts/rules`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AlertRuleCreate {
    #[schema(min_length = 1, max_length = 100)]
    pub name: Option<String>,
    #[schema(value_type = AlertMetric)]
    pub metric: String,
    /// `>` (default) or `<`.
    #[schema(value_type = Option<Comparison>)]
    pub comparison: Option<String>,
    pub threshold: f64,
    /// Default 300; at most a week.
    #[serde(
        default,
        deserialize_with = "crate::bounded::opt_u64_at_most::<_, 604800>"
    )]
    #[schema(maximum = 604800)]
    pub for_seconds: Option<u64>,
    /// Default `{"kind":"all"}`.
    pub scope: Option<AlertScope>,
    /// Default true.
    pub email: Option<bool>,
    pub webhook: Option<String>,
    /// Default 3600; at most 30 days.
    #[serde(
        default,
        deserialize_with = "crate::bounded::opt_u64_at_most::<_, 2592000>"
    )]
    #[schema(maximum = 2592000)]
    pub throttle_seconds: Option<u64>,
    pub enabled: Option<bool>,
}

/// `PATCH /alerts/rules/{id}`: only the fields given change.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AlertRulePatch {
    #[schema(min_length = 1, max_length = 100)]
    pub name: Option<String>,
    #[schema(value_type = Option<Comparison>)]
    pub comparison: Option<String>,
    pub threshold: Option<f64>,
    #[serde(
        default,
        deserialize_with = "crate::bounded::opt_u64_at_most::<_, 604800>"
    )]
    #[schema(maximum = 604800)]
    pub for_seconds: Option<u64>,
    pub email: Option<bool>,
    /// `""` removes the webhook.
    pub webhook: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::bounded::opt_u64_at_most::<_, 2592000>"
    )]
    #[schema(maximum = 2592000)]
    pub throttle_seconds: Option<u64>,
    pub enabled: Option<bool>,
}

/// Whether an alert started or ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum AlertState {
    Firing,
    Resolved,
}

/// One entry of `GET /alerts/events`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AlertEvent {
    pub id: i64,
    pub rule_id: String,
    pub rule_name: String,
    pub owner: String,
    pub instance: String,
    pub state: AlertState,
    pub metric: AlertMetric,
    pub value: f64,
    pub threshold: f64,
    /// Unix seconds.
    pub time: i64,
    /// Whether notifications were sent (false when throttled), and any delivery error.
    pub notified: bool,
    pub error: Option<String>,
    /// What was attempted, per channel and recipient, and how it went; absent while the
    /// notifications are still on their way (or when `notified` is false); empty when the rule
    /// has no channel (no email, no webhook).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deliveries: Option<Vec<AlertDelivery>>,
}

/// One notification of an alert event: where it went and what happened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AlertDelivery {
    pub channel: AlertChannel,
    /// The email address or webhook URL; absent when there was nobody to send to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    pub status: DeliveryStatus,
    /// Why it failed or was skipped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// How an alert is delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum AlertChannel {
    Email,
    Webhook,
}

impl AlertChannel {
    pub fn as_str(self) -> &'static str {
        match self {
            AlertChannel::Email => "email",
            AlertChannel::Webhook => "webhook",
        }
    }
}

/// What became of one delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum DeliveryStatus {
    Sent,
    Failed,
    /// Not tried: no address, or no SMTP server configured.
    Skipped,
}

/// `POST /alerts/test`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AlertTestRequest {
    /// Where to send the test email.
    pub email: String,
}

/// The answer of `POST /alerts/test`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AlertTestResult {
    pub sent: bool,
    /// The SMTP server's or connection's error when not sent.
    pub error: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parsing_names_the_field() {
        assert_eq!(Timeframe::parse("week", "timeframe"), Ok(Timeframe::Week));
        assert_eq!(
            Timeframe::parse("minute", "timeframe").map_err(|e| e.field),
            Err("timeframe".to_owned())
        );
        assert_eq!(Cf::parse("max", "cf"), Ok(Cf::Max));
        assert!(Cf::parse("median", "cf").is_err_and(|e| e.field == "cf"));
        assert_eq!(
            AlertMetric::parse("disk_percent", "metric"),
            Ok(AlertMetric::DiskPercent)
        );
        assert!(
            AlertMetric::parse("load", "metric").is_err_and(|e| e.message.contains("cpu_percent"))
        );
    }

    #[test]
    fn wire_shapes() -> Result<(), serde_json::Error> {
        let point = serde_json::to_value(MetricsPoint {
            time: 1,
            cpu_percent: Some(12.5),
            ..MetricsPoint::default()
        })?;
        assert_eq!(point["cpu_percent"], 12.5);
        assert!(point["memory_bytes"].is_null());
        assert_eq!(
            serde_json::to_value(AlertScope::Instance("web1".into()))?,
            serde_json::json!({"kind": "instance", "value": "web1"})
        );
        assert_eq!(
            serde_json::to_value(AlertScope::All)?,
            serde_json::json!({"kind": "all"})
        );
        assert_eq!(serde_json::to_value(Comparison::Above)?, ">");
        assert!(Comparison::Below.holds(1.0, 2.0) && !Comparison::Above.holds(2.0, 2.0));
        Ok(())
    }
}
