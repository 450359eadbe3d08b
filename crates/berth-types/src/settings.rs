//! Host-wide settings (`GET/PUT /api/v1/settings`): what a new instance gets when its request
//! leaves a field out, and how often metrics are sampled.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::{FieldError, ImageRef, Limits};

/// Everything `PUT /settings` replaces at once: a full replace, every field given. (Stored
/// settings missing a field added later read it as its default.)
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    #[schema(required = true)]
    #[serde(default)]
    pub defaults: InstanceDefaults,
    #[schema(required = true)]
    #[serde(default)]
    pub metrics: MetricsSettings,
}

/// What `POST /instances` uses for a field it was not given. A `null` limit means no limit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InstanceDefaults {
    /// Image for requests without one, e.g. `debian/12`.
    #[schema(required = true)]
    #[serde(default = "default_image")]
    pub image: String,
    /// CPU cores.
    #[schema(required = true)]
    #[serde(default)]
    pub cpu: Option<f64>,
    /// Memory in bytes.
    #[schema(required = true)]
    #[serde(default)]
    pub memory: Option<u64>,
    /// Root filesystem size in bytes (needs a storage driver that can limit it: btrfs).
    #[schema(required = true)]
    #[serde(default)]
    pub disk: Option<u64>,
    /// Maximum number of processes.
    #[schema(required = true)]
    #[serde(default)]
    pub processes: Option<u64>,
    /// Whether new instances start when the host boots.
    #[schema(required = true)]
    #[serde(default)]
    pub autostart: bool,
}

fn default_image() -> String {
    "debian/12".into()
}

impl Default for InstanceDefaults {
    fn default() -> Self {
        Self {
            image: default_image(),
            cpu: None,
            memory: None,
            disk: None,
            processes: None,
            autostart: false,
        }
    }
}

impl InstanceDefaults {
    pub fn limits(&self) -> Limits {
        Limits {
            cpu: self.cpu,
            memory: self.memory,
            disk: self.disk,
            processes: self.processes,
        }
    }
}

/// How metrics are collected and kept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MetricsSettings {
    /// Seconds between two samples; divides a minute (1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30, 60).
    #[schema(required = true)]
    #[serde(default = "default_interval")]
    #[schema(schema_with = interval_choices)]
    pub interval_seconds: u32,
    #[schema(required = true)]
    #[serde(default)]
    pub retention: Retention,
}

fn default_interval() -> u32 {
    10
}

/// The intervals `validate` takes, as an enum in the API description (clients offer these).
fn interval_choices() -> utoipa::openapi::schema::Object {
    use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, SchemaFormat, Type};
    ObjectBuilder::new()
        .schema_type(Type::Integer)
        .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int32)))
        .description(Some("Seconds between two samples; divides a minute."))
        .enum_values(Some(
            (1..=MAX_INTERVAL_SECONDS).filter(|n| MAX_INTERVAL_SECONDS.is_multiple_of(*n)),
        ))
        .build()
}

impl Default for MetricsSettings {
    fn default() -> Self {
        Self {
            interval_seconds: default_interval(),
            retention: Retention::default(),
        }
    }
}

/// Which rollups are kept.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Retention {
    /// Proxmox VE's RRD layout: an hour, a day, a week, a month and a year, each in its own
    /// resolution.
    #[default]
    Proxmox,
}

/// The longest metrics interval: rollups start at one minute, so an interval divides it.
pub const MAX_INTERVAL_SECONDS: u32 = 60;

impl Settings {
    /// Checks every field; the error names the first bad one (`defaults.memory`, …).
    pub fn validate(&self) -> Result<(), FieldError> {
        ImageRef::parse_field(&self.defaults.image, "defaults.image")?;
        self.defaults.limits().validate().map_err(|e| {
            let field = e
                .field
                .strip_prefix("limits.")
                .map(|f| format!("defaults.{f}"))
                .unwrap_or(e.field);
            FieldError::new(field, e.message)
        })?;
        let interval = self.metrics.interval_seconds;
        // Rollup buckets (1 min and up) must hold whole samples.
        if interval == 0
            || interval > MAX_INTERVAL_SECONDS
            || !MAX_INTERVAL_SECONDS.is_multiple_of(interval)
        {
            return Err(FieldError::new(
                "metrics.interval_seconds",
                format!(
                    "{interval} does not divide a minute; give 1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30 or 60 seconds"
                ),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_round_trip() -> Result<(), Box<dyn std::error::Error>> {
        let settings = Settings::default();
        settings.validate()?;
        let json = serde_json::to_value(&settings)?;
        assert_eq!(json["defaults"]["image"], "debian/12");
        assert_eq!(json["defaults"]["memory"], serde_json::Value::Null);
        assert_eq!(json["metrics"]["interval_seconds"], 10);
        assert_eq!(json["metrics"]["retention"], "proxmox");
        assert_eq!(serde_json::from_value::<Settings>(json)?, settings);
        Ok(())
    }

    #[test]
    fn bad_fields_are_named() {
        let mut s = Settings::default();
        s.defaults.memory = Some(1);
        assert_eq!(
            s.validate().map_err(|e| e.field),
            Err("defaults.memory".into())
        );
        let mut s = Settings::default();
        s.defaults.image = "windows/11".into();
        assert_eq!(
            s.validate().map_err(|e| e.field),
            Err("defaults.image".into())
        );
        let mut s = Settings::default();
        s.metrics.interval_seconds = 0;
        assert_eq!(
            s.validate().map_err(|e| e.field),
            Err("metrics.interval_seconds".into())
        );
    }
}
