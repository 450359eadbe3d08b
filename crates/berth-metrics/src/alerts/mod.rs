//! Alerting: rules evaluated against every tick's samples, with a for-duration (the condition
//! must hold that long), firing and resolved events, throttled notifications (email to the
//! owners, a JSON webhook). Time comes from the caller, so tests drive it.

pub mod email;
pub mod rules;
pub mod store;
pub mod webhook;

use std::collections::HashMap;
use std::sync::Mutex;

use berth_types::metrics::{AlertEvent, AlertRule, AlertState};

use crate::collector::InstanceSample;
use crate::db::DbError;
pub use store::{AlertStore, RuleState};

/// An alert that started or ended this tick, with whether to notify.
#[derive(Debug, Clone, PartialEq)]
pub struct Transition {
    pub rule: AlertRule,
    /// The instance's owner (who is emailed besides the rule's owner).
    pub instance_owner: String,
    /// The recorded event.
    pub event: AlertEvent,
}

/// Evaluates rules; remembers since when each condition has held.
pub struct AlertEngine {
    pub store: AlertStore,
    pending: Mutex<HashMap<(String, String), i64>>,
}

impl AlertEngine {
    pub fn new(store: AlertStore) -> Self {
        Self {
            store,
            pending: Mutex::default(),
        }
    }

    /// Checks every enabled rule against `samples` taken at `now` (unix seconds); records and
    /// returns the transitions. `is_admin` says whether a rule's owner sees every instance.
    pub fn evaluate(
        &self,
        now: i64,
        samples: &[InstanceSample],
        is_admin: &dyn Fn(&str) -> bool,
    ) -> Result<Vec<Transition>, DbError> {
        let rules = self.store.rules()?;
        let mut states = self.store.states()?;
        let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        let mut out = Vec::new();
        for rule in rules.iter().filter(|r| r.enabled) {
            let admin = is_admin(&rule.owner);
            for s in samples {
                if !rules::applies(rule, &s.name, &s.owner, admin) {
                    continue;
                }
                let key = (rule.id.clone(), s.name.clone());
                let value = rules::value(rule.metric, s);
                let holds = value.is_some_and(|v| rule.comparison.holds(v, rule.threshold));
                let mut state = states.remove(&key).unwrap_or_default();
                let next = if holds {
                    let since = *pending.entry(key.clone()).or_insert(now);
                    if state.firing || now - since < rule.for_seconds as i64 {
                        continue;
                    }
                    let notify = state
                        .last_notified
                        .is_none_or(|t| now - t >= rule.throttle_seconds as i64);
                    state.firing = true;
                    state.firing_notified = notify;
                    if notify {
                        state.last_notified = Some(now);
                    }
                    (AlertState::Firing, notify)
                } else {
                    pending.remove(&key);
                    if !state.firing {
                        continue;
                    }
                    state.firing = false;
                    (AlertState::Resolved, state.firing_notified)
                };
                self.store.set_state(&rule.id, &s.name, state)?;
                let event = self.store.add_event(AlertEvent {
                    id: 0,
                    rule_id: rule.id.clone(),
                    rule_name: rule.name.clone(),
                    owner: rule.owner.clone(),
                    instance: s.name.clone(),
                    state: next.0,
                    metric: rule.metric,
                    value: value.map_or(0.0, |v| (v * 100.0).round() / 100.0),
                    threshold: rule.threshold,
                    time: now,
                    notified: next.1,
                    error: None,
                    deliveries: None,
                })?;
                out.push(Transition {
                    rule: rule.clone(),
                    instance_owner: s.owner.clone(),
                    event,
                });
            }
        }
        Ok(out)
    }
}

/// The subject and text of a notification.
pub fn message(t: &Transition) -> (String, String) {
    let e = &t.event;
    let what = match e.state {
        AlertState::Firing => "FIRING",
        AlertState::Resolved => "resolved",
    };
    let subject = format!("[berth] {what}: {} on {}", t.rule.name, e.instance);
    let body = format!(
        "Alert {what}: {name}\n\nInstance:  {instance} (owner {owner})\nCondition: {metric} {cmp} {threshold} for {secs} s\nValue:     {value}\nTime:      {time} (unix)\nRule id:   {id}\n",
        name = t.rule.name,
        instance = e.instance,
        owner = t.instance_owner,
        metric = e.metric.as_str(),
        cmp = t.rule.comparison.as_str(),
        threshold = e.threshold,
        secs = t.rule.for_seconds,
        value = e.value,
        time = e.time,
        id = t.rule.id,
    );
    (subject, body)
}

#[cfg(test)]
mod tests;
