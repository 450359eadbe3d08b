//! Events streamed by `GET /api/v1/events` (a WebSocket): operation progress, lifecycle changes
//! of instances, live metrics samples, and notices to the subscriber itself. One JSON object
//! per text message: `{"type", "instance", "owner", "time", "data"}`.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::{FieldError, InstanceState, Operation};

/// What an event is about.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum EventType {
    /// An operation changed (a step, its progress, its end); `data` is the operation.
    Operation,
    /// An instance, snapshot, backup or forward was created, changed or removed.
    Lifecycle,
    /// A live metrics sample; `data` has the shape of a metrics point.
    Metrics,
    /// A message to this subscriber (events it was too slow to take were dropped).
    Notice,
}

impl EventType {
    pub const ALL: [EventType; 4] = [
        EventType::Operation,
        EventType::Lifecycle,
        EventType::Metrics,
        EventType::Notice,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Operation => "operation",
            Self::Lifecycle => "lifecycle",
            Self::Metrics => "metrics",
            Self::Notice => "notice",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == raw)
    }
}

/// What happened, in a lifecycle event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum LifecycleAction {
    InstanceCreated,
    InstanceStarted,
    InstanceStopped,
    InstanceRestarted,
    InstanceSuspended,
    InstanceResumed,
    InstanceDeleted,
    /// A remote instance was moved to another node outside Berth (`object`: the new node).
    InstanceMigrated,
    InstanceUpdated,
    InstancePasswordChanged,
    SnapshotCreated,
    SnapshotRestored,
    SnapshotDeleted,
    BackupCreated,
    ForwardAdded,
    ForwardRemoved,
}

/// `data` of a lifecycle event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Lifecycle {
    pub action: LifecycleAction,
    /// Who asked: a username, `user/token-name` for an API token, or `berthd` for what the
    /// daemon does by itself (autostart, schedules).
    pub actor: String,
    /// The instance's state afterwards; absent once it is deleted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<InstanceState>,
    /// The snapshot, backup or forward concerned, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object: Option<String>,
    /// Why, when the guest changed state by itself: its init's exit status and the last lines
    /// of its console.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// `data` of a notice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Notice {
    /// Events this subscriber missed since the last notice.
    pub dropped: u64,
    pub message: String,
}

/// An event's payload, by type.
#[derive(Debug, Clone, PartialEq)]
pub enum EventData {
    Operation(Box<Operation>),
    Lifecycle(Lifecycle),
    /// A metrics point (`time`, `cpu_percent`, `memory_bytes`, …) as the metrics API shows it.
    Metrics(serde_json::Value),
    Notice(Notice),
}

/// One event. It travels as a [`WireEvent`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "WireEvent", into = "WireEvent")]
pub struct Event {
    /// The instance it concerns; absent for host-wide events and notices.
    pub instance: Option<String>,
    /// Who owns what it concerns: only they and admins receive it. Absent: admins only
    /// (host-wide), or the subscriber itself (notices).
    pub owner: Option<String>,
    pub time: DateTime<Utc>,
    pub data: EventData,
}

/// An event as it travels: `{"type", "instance", "owner", "time", "data"}`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct WireEvent {
    #[serde(rename = "type")]
    pub kind: EventType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    pub time: DateTime<Utc>,
    /// The Operation, a Lifecycle, a metrics point, or a Notice, by `type`.
    pub data: serde_json::Value,
}

impl Event {
    pub fn kind(&self) -> EventType {
        match self.data {
            EventData::Operation(_) => EventType::Operation,
            EventData::Lifecycle(_) => EventType::Lifecycle,
            EventData::Metrics(_) => EventType::Metrics,
            EventData::Notice(_) => EventType::Notice,
        }
    }

    /// An operation's current view. Operations on an instance carry its name.
    pub fn operation(operation: &Operation) -> Self {
        let instance = operation
            .kind
            .as_str()
            .starts_with("instance_")
            .then(|| operation.target.clone());
        Self {
            instance,
            owner: Some(operation.owner.clone()),
            time: operation.updated_at,
            data: EventData::Operation(Box::new(operation.clone())),
        }
    }

    pub fn lifecycle(instance: &str, owner: &str, data: Lifecycle) -> Self {
        Self {
            instance: Some(instance.to_owned()),
            owner: Some(owner.to_owned()),
            time: Utc::now(),
            data: EventData::Lifecycle(data),
        }
    }

    /// A live metrics sample of `instance` (owned by `owner`), or of the host when both are
    /// `None`. `point` is serialised as it is.
    pub fn metrics(
        instance: Option<&str>,
        owner: Option<&str>,
        point: &impl Serialize,
    ) -> Result<Self, serde_json::Error> {
        Ok(Self {
            instance: instance.map(str::to_owned),
            owner: owner.map(str::to_owned),
            time: Utc::now(),
            data: EventData::Metrics(serde_json::to_value(point)?),
        })
    }

    /// Tells a subscriber it missed `dropped` events.
    pub fn dropped(dropped: u64) -> Self {
        Self {
            instance: None,
            owner: None,
            time: Utc::now(),
            data: EventData::Notice(Notice {
                dropped,
                message: format!(
                    "you were too slow; {dropped} event{} dropped",
                    if dropped == 1 { " was" } else { "s were" }
                ),
            }),
        }
    }
}

impl From<Event> for WireEvent {
    fn from(event: Event) -> Self {
        let kind = event.kind();
        let data = match event.data {
            EventData::Operation(op) => serde_json::to_value(op),
            EventData::Lifecycle(l) => serde_json::to_value(l),
            EventData::Metrics(point) => Ok(point),
            EventData::Notice(n) => serde_json::to_value(n),
        };
        Self {
            kind,
            instance: event.instance,
            owner: event.owner,
            time: event.time,
            data: data.unwrap_or(serde_json::Value::Null),
        }
    }
}

impl TryFrom<WireEvent> for Event {
    type Error = serde_json::Error;

    fn try_from(wire: WireEvent) -> Result<Self, Self::Error> {
        let data = match wire.kind {
            EventType::Operation => EventData::Operation(serde_json::from_value(wire.data)?),
            EventType::Lifecycle => EventData::Lifecycle(serde_json::from_value(wire.data)?),
            EventType::Metrics => EventData::Metrics(wire.data),
            EventType::Notice => EventData::Notice(serde_json::from_value(wire.data)?),
        };
        Ok(Self {
            instance: wire.instance,
            owner: wire.owner,
            time: wire.time,
            data,
        })
    }
}

/// `GET /events?types=operation,lifecycle&instance=web1`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EventsQuery {
    /// Comma-separated: `operation`, `lifecycle`, `metrics`. All when absent. Notices always
    /// come.
    #[serde(default)]
    pub types: Option<String>,
    /// Only events about this instance.
    #[serde(default)]
    pub instance: Option<String>,
}

/// Which events a subscriber wants.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventFilter {
    /// `None`: every type.
    pub types: Option<BTreeSet<EventType>>,
    pub instance: Option<String>,
}

impl EventFilter {
    /// Parses the query; an unknown type is an error naming `types`.
    pub fn parse(query: &EventsQuery) -> Result<Self, FieldError> {
        let types = match query.types.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(list) => {
                let mut types = BTreeSet::new();
                for raw in list.split(',').map(str::trim).filter(|t| !t.is_empty()) {
                    let kind = EventType::parse(raw).ok_or_else(|| {
                        FieldError::new(
                            "types",
                            format!(
                                "unknown event type {raw:?}; give a comma-separated list of operation, lifecycle, metrics"
                            ),
                        )
                    })?;
                    types.insert(kind);
                }
                Some(types)
            }
        };
        let instance = match query.instance.as_deref() {
            None | Some("") => None,
            Some(raw) => Some(crate::InstanceName::parse_field(raw, "instance")?),
        };
        Ok(Self {
            types,
            instance: instance.map(|n| n.as_str().to_owned()),
        })
    }

    /// Whether `event` passes the type and instance filters (notices always do).
    pub fn matches(&self, event: &Event) -> bool {
        let kind = event.kind();
        if kind == EventType::Notice {
            return true;
        }
        if let Some(types) = &self.types
            && !types.contains(&kind)
        {
            return false;
        }
        match &self.instance {
            Some(want) => event.instance.as_deref() == Some(want.as_str()),
            None => true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lifecycle_events_travel_as_the_contract_says() -> Result<(), serde_json::Error> {
        let event = Event::lifecycle(
            "web1",
            "alice",
            Lifecycle {
                action: LifecycleAction::InstanceStarted,
                actor: "alice".into(),
                state: Some(InstanceState::Running),
                object: None,
                reason: None,
            },
        );
        let json = serde_json::to_value(&event)?;
        assert_eq!(json["type"], "lifecycle");
        assert_eq!(json["instance"], "web1");
        assert_eq!(json["owner"], "alice");
        assert_eq!(json["data"]["action"], "instance-started");
        assert_eq!(json["data"]["state"], "running");
        let back: Event = serde_json::from_value(json)?;
        assert_eq!(back, event);
        Ok(())
    }

    #[test]
    fn notices_say_how_many_were_dropped() -> Result<(), serde_json::Error> {
        let json = serde_json::to_value(Event::dropped(12))?;
        assert_eq!(json["type"], "notice");
        assert_eq!(json["data"]["dropped"], 12);
        assert_eq!(
            json["data"]["message"],
            "you were too slow; 12 events were dropped"
        );
        assert!(json.get("owner").is_none());
        Ok(())
    }

    #[test]
    fn filters_by_type_and_instance() -> Result<(), Box<dyn std::error::Error>> {
        let filter = EventFilter::parse(&EventsQuery {
            types: Some("lifecycle, metrics".into()),
            instance: Some("web1".into()),
        })?;
        let on = |name: &str| {
            Event::lifecycle(
                name,
                "alice",
                Lifecycle {
                    action: LifecycleAction::InstanceStopped,
                    actor: "alice".into(),
                    state: None,
                    object: None,
                    reason: None,
                },
            )
        };
        assert!(filter.matches(&on("web1")));
        assert!(!filter.matches(&on("web2")));
        let metrics = Event::metrics(Some("web1"), Some("alice"), &serde_json::json!({}))?;
        assert!(filter.matches(&metrics));
        assert!(filter.matches(&Event::dropped(1)));
        let bad = EventFilter::parse(&EventsQuery {
            types: Some("lifecycle,bogus".into()),
            instance: None,
        });
        assert_eq!(bad.map_err(|e| e.field).err().as_deref(), Some("types"));
        let bad = EventFilter::parse(&EventsQuery {
            types: None,
            instance: Some("Bad_Name".into()),
        });
        assert_eq!(bad.map_err(|e| e.field).err().as_deref(), Some("instance"));
        Ok(())
    }
}
