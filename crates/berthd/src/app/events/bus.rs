//! The bus itself: subscribers with their filter, rights and bounded buffer, and a `publish`
//! that never waits. Events that do not fit a subscriber's buffer are counted, and it gets one
//! `notice` with the count in their place, as soon as there is room again (or when it has read
//! everything buffered).

use std::ops::Deref;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use berth_auth::Principal;
use berth_types::InstanceState;
use berth_types::events::{Event, EventFilter, Lifecycle, LifecycleAction};
use tokio::sync::mpsc;
use tokio::sync::mpsc::error::{TryRecvError, TrySendError};

use super::actor;

/// Events a subscriber may have waiting before newer ones are dropped.
pub const SUBSCRIBER_BUFFER: usize = 1024;

/// An event as its subscribers share it: encoded to JSON once, by the first that needs it.
#[derive(Debug)]
pub struct Published {
    event: Event,
    json: OnceLock<String>,
}

impl Published {
    fn new(event: Event) -> Arc<Self> {
        Arc::new(Self {
            event,
            json: OnceLock::new(),
        })
    }

    /// The event as one JSON object (the WebSocket message).
    pub fn json(&self) -> &str {
        self.json.get_or_init(|| {
            serde_json::to_string(&self.event).unwrap_or_else(|e| {
                tracing::error!(error = %e, "cannot encode an event");
                String::new()
            })
        })
    }
}

impl Deref for Published {
    type Target = Event;

    fn deref(&self) -> &Event {
        &self.event
    }
}

struct Subscriber {
    id: u64,
    viewer: Principal,
    filter: EventFilter,
    tx: mpsc::Sender<Arc<Published>>,
    dropped: Arc<AtomicU64>,
}

#[derive(Default)]
struct Subscribers {
    next_id: u64,
    list: Vec<Subscriber>,
}

/// Fans events out to subscribers. Cheap to publish into from anywhere.
#[derive(Default)]
pub struct EventBus {
    subscribers: Arc<Mutex<Subscribers>>,
}

/// One subscriber's end. Dropping it unsubscribes.
pub struct Subscription {
    id: u64,
    rx: mpsc::Receiver<Arc<Published>>,
    dropped: Arc<AtomicU64>,
    subscribers: Arc<Mutex<Subscribers>>,
}

fn lock(subscribers: &Mutex<Subscribers>) -> std::sync::MutexGuard<'_, Subscribers> {
    subscribers
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Whether `viewer` may see `event`: their own things, everything for admins; host-wide events
/// (no owner) are for admins only.
pub fn visible(viewer: &Principal, event: &Event) -> bool {
    match &event.owner {
        Some(owner) => viewer.can_read(owner),
        None => viewer.is_admin(),
    }
}

impl EventBus {
    pub fn new() -> Self {
        Self::default()
    }

    /// Subscribes `viewer` to the events `filter` selects, with the default buffer.
    pub fn subscribe(&self, viewer: Principal, filter: EventFilter) -> Subscription {
        self.subscribe_with_buffer(viewer, filter, SUBSCRIBER_BUFFER)
    }

    /// As [`subscribe`](Self::subscribe), holding at most `buffer` unread events.
    pub fn subscribe_with_buffer(
        &self,
        viewer: Principal,
        filter: EventFilter,
        buffer: usize,
    ) -> Subscription {
        self.add(&mut lock(&self.subscribers), viewer, filter, buffer)
    }

    fn add(
        &self,
        subscribers: &mut Subscribers,
        viewer: Principal,
        filter: EventFilter,
        buffer: usize,
    ) -> Subscription {
        let (tx, rx) = mpsc::channel(buffer.max(1));
        let dropped = Arc::new(AtomicU64::new(0));
        subscribers.next_id += 1;
        let id = subscribers.next_id;
        subscribers.list.push(Subscriber {
            id,
            viewer,
            filter,
            tx,
            dropped: dropped.clone(),
        });
        Subscription {
            id,
            rx,
            dropped,
            subscribers: self.subscribers.clone(),
        }
    }

    /// As [`subscribe`](Self::subscribe), unless `viewer`'s user already has `most` streams
    /// open (checked and added under one lock); then how many they have.
    pub fn subscribe_at_most(
        &self,
        viewer: Principal,
        filter: EventFilter,
        most: usize,
    ) -> Result<Subscription, usize> {
        let mut subscribers = lock(&self.subscribers);
        let open = subscribers
            .list
            .iter()
            .filter(|sub| sub.viewer.user_id == viewer.user_id)
            .count();
        if open >= most {
            return Err(open);
        }
        Ok(self.add(&mut subscribers, viewer, filter, SUBSCRIBER_BUFFER))
    }

    /// Re-checks each subscriber's credential with `check` (once per distinct credential,
    /// outside the lock): one whose credential ended is dropped, which ends its stream; the
    /// others keep their rights as they are now (a demoted admin stops seeing others' events).
    pub fn revalidate(&self, check: impl Fn(&Principal) -> Option<Principal>) {
        let viewers: Vec<(u64, Principal)> = lock(&self.subscribers)
            .list
            .iter()
            .map(|sub| (sub.id, sub.viewer.clone()))
            .collect();
        let mut checked: Vec<(Principal, Option<Principal>)> = Vec::new();
        let mut verdicts = std::collections::HashMap::new();
        for (id, viewer) in viewers {
            let verdict = match checked.iter().find(|(seen, _)| *seen == viewer) {
                Some((_, verdict)) => verdict.clone(),
                None => {
                    let verdict = check(&viewer);
                    checked.push((viewer, verdict.clone()));
                    verdict
                }
            };
            verdicts.insert(id, verdict);
        }
        lock(&self.subscribers)
            .list
            .retain_mut(|sub| match verdicts.get(&sub.id) {
                Some(Some(now)) => {
                    sub.viewer = now.clone();
                    true
                }
                Some(None) => {
                    tracing::info!(user = %sub.viewer.username, "event stream closed: its credential ended");
                    false
                }
                None => true,
            });
    }

    pub fn subscriber_count(&self) -> usize {
        lock(&self.subscribers).list.len()
    }

    /// Hands `event` to every subscriber that wants it and may see it. Never waits.
    pub fn publish(&self, event: Event) {
        let event = Published::new(event);
        let mut subscribers = lock(&self.subscribers);
        subscribers.list.retain(|sub| {
            if !sub.filter.matches(&event) || !visible(&sub.viewer, &event) {
                return true;
            }
            deliver(sub, &event)
        });
    }

    /// Publishes a lifecycle event about `instance` (owned by `owner`), asked for by the
    /// current task's actor.
    pub fn lifecycle(
        &self,
        instance: &str,
        owner: &str,
        action: LifecycleAction,
        state: Option<InstanceState>,
        object: Option<String>,
    ) {
        let actor = actor();
        tracing::debug!(instance, ?action, %actor, "lifecycle event");
        self.publish(Event::lifecycle(
            instance,
            owner,
            Lifecycle {
                action,
                actor,
                state,
                object,
                reason: None,
            },
        ));
    }
}

/// Puts `event` in `sub`'s buffer (after a notice of what it missed, if anything); `false` when
/// the subscriber is gone.
fn deliver(sub: &Subscriber, event: &Arc<Published>) -> bool {
    let missed = sub.dropped.swap(0, Ordering::AcqRel);
    if missed > 0 {
        match sub.tx.try_send(Published::new(Event::dropped(missed))) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                sub.dropped.fetch_add(missed + 1, Ordering::AcqRel);
                return true;
            }
            Err(TrySendError::Closed(_)) => return false,
        }
    }
    match sub.tx.try_send(event.clone()) {
        Ok(()) => true,
        Err(TrySendError::Full(_)) => {
            sub.dropped.fetch_add(1, Ordering::AcqRel);
            true
        }
        Err(TrySendError::Closed(_)) => false,
    }
}

impl Subscription {
    /// The next event; a notice when events were dropped and everything older has been read.
    /// `None` once the bus is gone.
    pub async fn recv(&mut self) -> Option<Arc<Published>> {
        match self.rx.try_recv() {
            Ok(event) => return Some(event),
            Err(TryRecvError::Disconnected) => return None,
            Err(TryRecvError::Empty) => {}
        }
        let missed = self.dropped.swap(0, Ordering::AcqRel);
        if missed > 0 {
            return Some(Published::new(Event::dropped(missed)));
        }
        self.rx.recv().await
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        lock(&self.subscribers).list.retain(|sub| sub.id != self.id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use berth_auth::{Role, Scope, Via};
    use uuid::Uuid;

    fn user(name: &str, role: Role) -> Principal {
        Principal {
            user_id: Uuid::new_v4(),
            username: name.into(),
            role,
            scope: Scope::Full,
            via: Via::Socket,
        }
    }

    fn started(instance: &str, owner: &str) -> Event {
        Event::lifecycle(
            instance,
            owner,
            Lifecycle {
                action: LifecycleAction::InstanceStarted,
                actor: owner.into(),
                state: None,
                object: None,
                reason: None,
            },
        )
    }

    #[tokio::test]
    async fn a_full_buffer_drops_and_says_how_many_in_their_place() {
        let bus = EventBus::new();
        let mut slow = bus.subscribe_with_buffer(user("a", Role::Admin), EventFilter::default(), 4);
        for i in 0..10 {
            bus.publish(started(&format!("i{i}"), "a"));
        }
        let mut seen = Vec::new();
        for _ in 0..5 {
            let Some(event) = slow.recv().await else {
                break;
            };
            seen.push(event);
        }
        let names: Vec<_> = seen.iter().map(|e| e.instance.clone()).collect();
        assert_eq!(
            names,
            vec![
                Some("i0".into()),
                Some("i1".into()),
                Some("i2".into()),
                Some("i3".into()),
                None
            ]
        );
        assert!(
            matches!(&seen[4].data, berth_types::events::EventData::Notice(n) if n.dropped == 6)
        );
        // Room again: the next event comes, with no second notice.
        bus.publish(started("i10", "a"));
        let next = slow.recv().await;
        assert_eq!(next.and_then(|e| e.instance.clone()), Some("i10".into()));
    }

    #[tokio::test]
    async fn a_user_may_hold_only_so_many_streams() {
        let bus = EventBus::new();
        let alice = user("alice", Role::User);
        let first = bus.subscribe_at_most(alice.clone(), EventFilter::default(), 2);
        let second = bus.subscribe_at_most(alice.clone(), EventFilter::default(), 2);
        assert!(first.is_ok() && second.is_ok());
        let third = bus.subscribe_at_most(alice.clone(), EventFilter::default(), 2);
        assert_eq!(third.err(), Some(2));
        drop(first);
        assert!(
            bus.subscribe_at_most(alice, EventFilter::default(), 2)
                .is_ok()
        );
    }

    #[tokio::test]
    async fn owners_see_their_own_admins_everything_and_host_events_are_for_admins() {
        let bus = EventBus::new();
        let mut alice = bus.subscribe(user("alice", Role::User), EventFilter::default());
        let mut admin = bus.subscribe(user("root", Role::Admin), EventFilter::default());
        bus.publish(started("b1", "bob"));
        bus.publish(
            Event::metrics(None, None, &serde_json::json!({"cpu_percent": 1.0})).expect("json"),
        );
        bus.publish(started("a1", "alice"));
        let first = alice.recv().await.and_then(|e| e.instance.clone());
        assert_eq!(first, Some("a1".into()));
        let mut seen = Vec::new();
        for _ in 0..3 {
            seen.push(admin.recv().await.map(|e| e.instance.clone()));
        }
        assert_eq!(
            seen,
            vec![Some(Some("b1".into())), Some(None), Some(Some("a1".into()))]
        );
        drop(alice);
        assert_eq!(bus.subscriber_count(), 1);
    }
}
