//! Image servers (`[[images.remotes]]`, simplestreams) as the app shows them: the configured
//! servers and one server's catalogue, each entry marked with when it was fetched into the
//! cache. Fetching and unpacking are berth-image's (`streams`).

use berth_image::streams::{self, Remote};
use berth_types::api::{ImageRemote, RemoteImageInfo};

use super::error::error_chain;
use super::{App, AppError};

impl App {
    /// The configured image servers, in configuration order.
    pub fn image_remotes(&self) -> Vec<ImageRemote> {
        self.images
            .remotes
            .iter()
            .map(|r| ImageRemote {
                name: r.name.clone(),
                url: r.url.clone(),
            })
            .collect()
    }

    fn image_remote(&self, name: &str) -> Result<&Remote, AppError> {
        self.images
            .remotes
            .iter()
            .find(|r| r.name == name)
            .ok_or_else(|| {
                AppError::NotFound(format!(
                    "image server {name:?} (configure it as [[images.remotes]] in berthd.toml)"
                ))
            })
    }

    /// What the server `name` offers, read from it now.
    pub async fn remote_catalogue(&self, name: &str) -> Result<Vec<RemoteImageInfo>, AppError> {
        let remote = self.image_remote(name)?;
        let images = streams::catalogue(remote).await.map_err(|e| {
            tracing::warn!(remote = %remote.name, error = %error_chain(&e), "image server catalogue");
            AppError::Unavailable(format!(
                "image server {} ({}): {}",
                remote.name,
                remote.url,
                error_chain(&e)
            ))
        })?;
        let cache_dir = &self.images.cache_dir;
        Ok(images
            .into_iter()
            .map(|image| {
                let alias = image.aliases.first().cloned().unwrap_or_default();
                let fetched = streams::find_fetched(cache_dir, &remote.name, &alias, image.arch);
                RemoteImageInfo {
                    fetched_at: fetched.map(|f| f.meta.fetched_at),
                    alias,
                    aliases: image.aliases,
                    product: image.product,
                    os: image.os,
                    release: image.release,
                    variant: image.variant,
                    arch: image.arch.as_str().to_owned(),
                    version: image.version,
                    ftype: image.rootfs.ftype,
                    size: image.rootfs.size,
                }
            })
            .collect())
    }
}
