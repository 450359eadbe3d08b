//! Scheduled image refresh (`[images] refresh_after`): a background task finds cached images
//! older than that — built ones by their build date, fetched ones by their fetch date — and
//! builds or fetches each again as an ordinary forced `image_build` operation run by berthd,
//! one at a time. The new image is made beside the old one and renamed into place; instances
//! made from the old one have their own copies (clones, snapshots, reflinks), so they keep
//! running, and new instances get the new image.

use std::sync::Arc;
use std::time::Duration;

use berth_types::api::BuildImageRequest;
use berth_types::{Arch, Operation};
use chrono::{DateTime, Utc};

use super::App;
use super::error::error_chain;

/// The longest pause between two looks for stale images.
const MAX_TICK: Duration = Duration::from_secs(600);

/// An image due for a refresh: what `POST /images` would name it, and its architecture.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Stale {
    pub image: String,
    pub arch: Arch,
}

impl App {
    /// With `[images] refresh_after` set, looks for stale images every half of it (at most
    /// every ten minutes) for as long as berthd runs.
    pub(crate) fn spawn_image_refresher(self: &Arc<Self>) {
        let Some(age) = self.images.refresh_after else {
            return;
        };
        let every = (age / 2).clamp(Duration::from_secs(1), MAX_TICK);
        self.spawn_every(every, |app| async move {
            app.refresh_images(Utc::now()).await;
        });
    }

    /// The cached images older than `refresh_after` at `now` (none when it is not set):
    /// catalogue builds of every architecture, then images fetched from servers still
    /// configured.
    pub(crate) fn stale_images(&self, now: DateTime<Utc>) -> Vec<Stale> {
        let Some(age) = self.images.refresh_after else {
            return Vec::new();
        };
        let Ok(age) = chrono::Duration::from_std(age) else {
            return Vec::new();
        };
        let cache_dir = &self.images.cache_dir;
        let mut stale = Vec::new();
        match berth_image::list_cached(cache_dir) {
            Ok(cached) => stale.extend(cached.into_iter().filter(|c| now - c.built_at >= age).map(
                |c| Stale {
                    image: c.image.to_string(),
                    arch: c.arch,
                },
            )),
            Err(e) => tracing::warn!(error = %error_chain(&e), "image refresh: listing the cache"),
        }
        stale.extend(
            berth_image::streams::list_fetched(cache_dir)
                .into_iter()
                .filter(|f| self.images.remotes.iter().any(|r| r.name == f.meta.remote))
                .filter(|f| now - f.meta.fetched_at >= age)
                .map(|f| Stale {
                    image: format!("{}:{}", f.meta.remote, f.meta.alias),
                    arch: f.meta.arch,
                }),
        );
        stale
    }

    /// Builds or fetches again every image stale at `now`, one operation at a time, and
    /// returns the operations as they ended. Public so tests can drive the clock.
    pub async fn refresh_images(self: &Arc<Self>, now: DateTime<Utc>) -> Vec<Operation> {
        let daemon = super::access::daemon();
        let mut ended = Vec::new();
        for stale in self.stale_images(now) {
            let request = BuildImageRequest {
                image: stale.image.clone(),
                force: true,
                arch: Some(stale.arch.as_str().to_owned()),
            };
            let operation = match self.build_image(&daemon, request) {
                Ok(operation) => operation,
                Err(e) => {
                    tracing::warn!(image = %stale.image, arch = stale.arch.as_str(),
                        error = %e, "image refresh could not start");
                    continue;
                }
            };
            tracing::info!(image = %stale.image, arch = stale.arch.as_str(),
                operation = %operation.id, "refreshing a stale image");
            let done = match self.operations.watch(operation.id) {
                Some(mut rx) => {
                    let _ = rx.wait_for(|op| op.status.is_final()).await;
                    rx.borrow().clone()
                }
                None => operation,
            };
            if let Some(error) = &done.error {
                tracing::warn!(image = %stale.image, %error, "image refresh failed; the cached image stays");
            }
            ended.push(done);
        }
        ended
    }
}
