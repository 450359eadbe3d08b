//! The last `/cluster/resources` read: answers reads for `ttl` (HIT), is refreshed after that
//! (MISS), and is served as it is while PVE is unreachable (STALE).

use std::sync::Mutex;
use std::time::{Duration, Instant};

use berth_proxmox::client::ClusterResource;
use berth_proxmox::{Client, ProxmoxError};
use berth_types::{CacheStatus, InstanceName};

pub(super) struct ResourceCache {
    ttl: Duration,
    last: Mutex<Option<(Vec<ClusterResource>, Instant)>>,
    /// When a read last found PVE unreachable: for a TTL after it, reads answer STALE at once
    /// instead of each waiting out a connection deadline.
    down_since: Mutex<Option<Instant>>,
    /// One refresh at a time: concurrent reads wait for it and share its answer.
    refreshing: tokio::sync::Mutex<()>,
}

impl ResourceCache {
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            last: Mutex::default(),
            down_since: Mutex::default(),
            refreshing: tokio::sync::Mutex::const_new(()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<(Vec<ClusterResource>, Instant)>> {
        self.last.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// For reads: the cached list while fresh, else a new read; the old one when PVE is down.
    pub async fn read(
        &self,
        client: &Client,
    ) -> Result<(Vec<ClusterResource>, CacheStatus), ProxmoxError> {
        if let Some(fresh) = self.fresh() {
            return Ok((fresh, CacheStatus::Hit));
        }
        let _turn = self.refreshing.lock().await;
        // Someone else may have refreshed while this read waited.
        if let Some(fresh) = self.fresh() {
            return Ok((fresh, CacheStatus::Hit));
        }
        let recently_down = self
            .down_since
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .is_some_and(|at| at.elapsed() < self.ttl);
        if recently_down && let Some((resources, _)) = self.lock().as_ref() {
            return Ok((resources.clone(), CacheStatus::Stale));
        }
        match self.refresh(client).await {
            Ok(resources) => Ok((resources, CacheStatus::Miss)),
            Err(err) if err.is_unreachable() => match self.lock().as_ref() {
                Some((resources, _)) => {
                    tracing::debug!(error = %err, "proxmox unreachable; answering from cache");
                    Ok((resources.clone(), CacheStatus::Stale))
                }
                None => Err(err),
            },
            Err(err) => Err(err),
        }
    }

    fn fresh(&self) -> Option<Vec<ClusterResource>> {
        self.lock()
            .as_ref()
            .filter(|(_, at)| at.elapsed() < self.ttl)
            .map(|(resources, _)| resources.clone())
    }

    /// A new read, kept for later reads.
    pub async fn refresh(&self, client: &Client) -> Result<Vec<ClusterResource>, ProxmoxError> {
        let read = client.resources(None).await;
        let mut down = self.down_since.lock().unwrap_or_else(|p| p.into_inner());
        match &read {
            Err(err) if err.is_unreachable() => *down = Some(Instant::now()),
            _ => *down = None,
        }
        drop(down);
        let resources = read?;
        *self.lock() = Some((resources.clone(), Instant::now()));
        Ok(resources)
    }

    /// After a write the next read goes to PVE (the cached list stays for offline answers).
    pub fn invalidate(&self) {
        if let Some((_, at)) = self.lock().as_mut() {
            *at = Instant::now().checked_sub(self.ttl).unwrap_or(*at);
        }
    }
}

/// The Berth-tagged container called `name`.
pub(super) fn find_guest<'a>(
    resources: &'a [ClusterResource],
    name: &InstanceName,
) -> Option<&'a ClusterResource> {
    resources.iter().find(|r| {
        r.kind == "lxc"
            && r.name.as_deref() == Some(name.as_str())
            && r.tags
                .as_deref()
                .is_some_and(|tags| tags.split([';', ',', ' ']).any(|t| t == super::TAG))
    })
}
