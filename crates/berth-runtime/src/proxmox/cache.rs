//! The last `/cluster/resources` read: answers reads for `ttl` (HIT). After that a read starts a
//! refresh in the background and waits for it at most `deadline` (MISS when it came back in
//! time); a refresh that does not come back in time — a node that accepts connections and never
//! answers — leaves the read with the last list, marked STALE, while the refresh goes on alone.
//! So no read waits for the client's timeout, and one hanging PVE costs at most one deadline.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use berth_proxmox::client::ClusterResource;
use berth_proxmox::{Client, ProxmoxError};
use berth_types::{CacheStatus, InstanceName};
use tokio::sync::watch;

use crate::RuntimeError;

/// How a background refresh ended: `None` while it runs; a failure as (unreachable?, message).
type Outcome = Option<Result<(), (bool, String)>>;

fn failure(err: &ProxmoxError) -> (bool, String) {
    (err.is_unreachable(), err.to_string())
}

fn error((unreachable, reason): (bool, String)) -> RuntimeError {
    if unreachable {
        RuntimeError::Unreachable {
            backend: "proxmox",
            reason,
        }
    } else {
        RuntimeError::Backend {
            backend: "proxmox",
            reason,
        }
    }
}

pub(super) struct ResourceCache {
    ttl: Duration,
    /// How long a read waits for a refresh before answering from the cache (STALE).
    deadline: Duration,
    client: Client,
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    /// The last list read, when its request was sent, and in which epoch.
    last: Mutex<Option<(Vec<ClusterResource>, Instant, u64)>>,
    /// When a refresh last found PVE unreachable: for a TTL after it, reads answer STALE at
    /// once instead of each trying again.
    down_since: Mutex<Option<Instant>>,
    /// The refresh under way: when it started, the invalidation epoch it started in, and its
    /// outcome to wait on.
    running: Mutex<Option<(Instant, u64, watch::Receiver<Outcome>)>>,
    /// Bumped by each write: a refresh started before it may miss the write's effect.
    epoch: Mutex<u64>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl ResourceCache {
    pub fn new(client: Client, ttl: Duration, deadline: Duration) -> Self {
        Self {
            ttl,
            deadline,
            client,
            inner: Arc::default(),
        }
    }

    /// For reads: the cached list while fresh; else a background refresh waited for at most
    /// the deadline; the last list (STALE) when PVE is down or does not answer in time.
    pub async fn read(&self) -> Result<(Vec<ClusterResource>, CacheStatus), RuntimeError> {
        if let Some(fresh) = self.fresh() {
            return Ok((fresh, CacheStatus::Hit));
        }
        let recently_down = lock(&self.inner.down_since).is_some_and(|at| at.elapsed() < self.ttl);
        if recently_down && let Some(last) = self.last() {
            return Ok((last, CacheStatus::Stale));
        }
        let (started, mut outcome) = self.kick();
        let left = self.deadline.saturating_sub(started.elapsed());
        let ended = tokio::time::timeout(left, outcome.wait_for(Option::is_some)).await;
        let result = match ended {
            Ok(Ok(done)) => done.clone().unwrap_or(Ok(())).map_err(error),
            // Still running: answer from what is known; the refresh goes on by itself.
            _ => Err(error((
                true,
                format!(
                    "proxmox at {}: no answer within {} ms; still trying in the background",
                    self.client.url(),
                    self.deadline.as_millis()
                ),
            ))),
        };
        match result {
            Ok(()) => self
                .last()
                .map(|last| (last, CacheStatus::Miss))
                .ok_or_else(|| error((false, "proxmox: no list read".into()))),
            Err(err @ RuntimeError::Unreachable { .. }) => match self.last() {
                Some(last) => {
                    tracing::debug!(error = %err, "proxmox not answering; answering from cache");
                    Ok((last, CacheStatus::Stale))
                }
                None => Err(err),
            },
            Err(err) => Err(err),
        }
    }

    /// Starts a refresh in the background unless one of the current epoch runs; returns when
    /// the one to wait for started and its outcome.
    fn kick(&self) -> (Instant, watch::Receiver<Outcome>) {
        let epoch = *lock(&self.inner.epoch);
        let mut running = lock(&self.inner.running);
        if let Some((started, of, outcome)) = running.as_ref()
            && *of == epoch
            && outcome.borrow().is_none()
        {
            return (*started, outcome.clone());
        }
        let (tx, rx) = watch::channel(None);
        let started = Instant::now();
        *running = Some((started, epoch, rx.clone()));
        let inner = self.inner.clone();
        let client = self.client.clone();
        tokio::spawn(async move {
            let result = inner.refresh(&client, epoch).await.map(drop);
            let result = result.map_err(|e| failure(&e));
            tx.send_replace(Some(result));
        });
        (started, rx)
    }

    /// Refreshes in the background and waits for it (for the follower, which has time).
    pub async fn sync(&self) -> Result<(), RuntimeError> {
        let (_, mut outcome) = self.kick();
        match outcome.wait_for(Option::is_some).await {
            Ok(done) => done.clone().unwrap_or(Ok(())).map_err(error),
            Err(_) => Ok(()),
        }
    }

    /// The list while younger than the TTL and read after the last write.
    fn fresh(&self) -> Option<Vec<ClusterResource>> {
        let epoch = *lock(&self.inner.epoch);
        lock(&self.inner.last)
            .as_ref()
            .filter(|(_, at, of)| at.elapsed() < self.ttl && *of == epoch)
            .map(|(resources, _, _)| resources.clone())
    }

    fn last(&self) -> Option<Vec<ClusterResource>> {
        lock(&self.inner.last).as_ref().map(|(r, _, _)| r.clone())
    }

    /// A new read now, waited for with the client's deadline (writes must not act on a stale
    /// location); kept for later reads.
    pub async fn refresh(&self) -> Result<Vec<ClusterResource>, ProxmoxError> {
        let epoch = *lock(&self.inner.epoch);
        self.inner.refresh(&self.client, epoch).await
    }

    /// After a write the next read goes to PVE (the cached list stays for offline answers),
    /// and does not join a refresh started before the write.
    pub fn invalidate(&self) {
        *lock(&self.inner.epoch) += 1;
    }
}

impl Inner {
    async fn refresh(
        &self,
        client: &Client,
        epoch: u64,
    ) -> Result<Vec<ClusterResource>, ProxmoxError> {
        let sent = Instant::now();
        let read = client.resources(None).await;
        *lock(&self.down_since) = match &read {
            Err(err) if err.is_unreachable() => Some(Instant::now()),
            _ => None,
        };
        let resources = read?;
        let mut last = lock(&self.last);
        // A slower, older read never overwrites a newer one.
        if last.as_ref().is_none_or(|(_, at, _)| *at <= sent) {
            *last = Some((resources.clone(), sent, epoch));
        }
        Ok(resources)
    }
}

/// The Berth-tagged container called `name`.
pub(super) fn find_guest<'a>(
    resources: &'a [ClusterResource],
    name: &InstanceName,
) -> Option<&'a ClusterResource> {
    resources.iter().find(|r| is_berth_guest(r, name))
}

/// Whether `r` is a container tagged `berth` named `name`.
pub(super) fn is_berth_guest(r: &ClusterResource, name: &InstanceName) -> bool {
    r.kind == "lxc"
        && r.name.as_deref() == Some(name.as_str())
        && r.tags
            .as_deref()
            .is_some_and(|tags| tags.split([';', ',', ' ']).any(|t| t == super::TAG))
}
