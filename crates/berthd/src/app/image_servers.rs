//! Image servers (`[[images.remotes]]`, simplestreams) as the app shows them: the configured
//! servers, one server's catalogue (each entry marked with when it was fetched), fetching an
//! image into the cache (`POST /images` with `SERVER:ALIAS`, an `image_build` operation),
//! fetched images in `GET /images` and their deletion. Downloading, checking and unpacking are
//! berth-image's (`streams`).

use berth_image::streams::{self, FetchedImage, Remote, UnpackLimits};
use berth_types::api::{ImageInfo, ImageRemote, RemoteImageInfo};
use berth_types::units::format_bytes;
use berth_types::{Arch, FieldError, ServerImage};

use super::error::error_chain;
use super::images::ImageService;
use super::operation::OpError;
use super::{App, AppError};

impl ImageService {
    /// `alias` on `remote` for `arch`: the cached one, or (again, when `force`, replacing
    /// the cached one only once the new one is complete) fetched, telling `report` the
    /// download's progress.
    pub async fn fetch(
        &self,
        remote: &Remote,
        alias: &str,
        arch: Arch,
        force: bool,
        report: impl Fn(u8, String),
    ) -> Result<FetchedImage, OpError> {
        let failed = |e: streams::StreamsError| {
            OpError::Failed(format!(
                "fetching {}:{alias}: {}",
                remote.name,
                error_chain(&e)
            ))
        };
        let shown = format!("{}:{alias}", remote.name);
        // Told every chunk; reported once per percent, so a large download does not write
        // the operation thousands of times.
        let last = std::sync::atomic::AtomicU8::new(u8::MAX);
        let progress = |got: u64, total: u64| {
            let percent = (got.saturating_mul(90) / total.max(1)).min(90) as u8;
            if last.swap(percent, std::sync::atomic::Ordering::Relaxed) != percent {
                let (got, total) = (format_bytes(got), format_bytes(total));
                report(percent, format!("downloading {shown}: {got} of {total}"));
            }
        };
        let limits = UnpackLimits::default();
        let cache = &self.cache_dir;
        // Forced: fetched beside the cached one, which stays until the new one is complete.
        let fetched = if force {
            streams::refetch(cache, remote, alias, arch, limits, progress).await
        } else {
            streams::fetch(cache, remote, alias, arch, limits, progress).await
        };
        fetched.map_err(failed)
    }
}

impl ImageService {
    /// An instance's image-server image for `arch`: the cached one, or fetched when it is not
    /// (its server must still be configured).
    pub async fn fetch_server(
        &self,
        image: &ServerImage,
        arch: Arch,
        report: impl Fn(u8, String),
    ) -> Result<FetchedImage, OpError> {
        let remote = self
            .remotes
            .iter()
            .find(|r| r.name == image.remote)
            .ok_or_else(|| {
                OpError::Failed(format!(
                    "image server {:?} is no longer configured; add it again as \
                     [[images.remotes]] in berthd.toml",
                    image.remote
                ))
            })?;
        self.fetch(remote, &image.alias, arch, false, report).await
    }
}

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

    /// `SERVER:ALIAS` when SERVER is a configured image server (the alias checked), else
    /// `None` (a catalogue image; `debian:12` is one, those names are reserved).
    pub(crate) fn server_image(&self, raw: &str) -> Result<Option<(Remote, String)>, FieldError> {
        let Some((name, alias)) = raw.split_once(':') else {
            return Ok(None);
        };
        let Some(remote) = self.images.remotes.iter().find(|r| r.name == name) else {
            return Ok(None);
        };
        streams::check_alias(alias).map_err(|e| FieldError::new("image", error_chain(&e)))?;
        Ok(Some((remote.clone(), alias.to_owned())))
    }

    /// Fetched images as `GET /images` shows them: `SERVER:ALIAS`, status `fetched`.
    pub(super) fn fetched_images(&self) -> Vec<ImageInfo> {
        streams::list_fetched(&self.images.cache_dir)
            .into_iter()
            .map(fetched_info)
            .collect()
    }

    /// `GET /images/SERVER:ALIAS`: a fetched image (404 when it is not in the cache).
    pub(super) fn fetched_image_info(
        &self,
        remote: &Remote,
        alias: &str,
        arch: Option<&str>,
    ) -> Result<ImageInfo, AppError> {
        let arch = match arch {
            Some(raw) => Arch::parse_field(raw, "arch")?,
            None => self.images.arch,
        };
        let shown = format!("{}:{alias}", remote.name);
        streams::find_fetched(&self.images.cache_dir, &remote.name, alias, arch)
            .map(fetched_info)
            .ok_or_else(|| {
                AppError::NotFound(format!(
                    "image {shown} for {} (not fetched; berth image build {shown} fetches it)",
                    arch.as_str()
                ))
            })
    }

    pub(super) fn delete_fetched_image(
        &self,
        remote: &Remote,
        alias: &str,
        arch: Option<&str>,
    ) -> Result<(), AppError> {
        let arch = match arch {
            Some(raw) => Arch::parse_field(raw, "arch")?,
            None => self.images.arch,
        };
        let shown = format!("{}:{alias}", remote.name);
        let deleted = streams::delete_fetched(&self.images.cache_dir, &remote.name, alias, arch)
            .map_err(|e| AppError::internal(&format!("deleting {shown}"), error_chain(&e)))?;
        if deleted {
            Ok(())
        } else {
            Err(AppError::NotFound(format!(
                "image {shown} for {} (not fetched)",
                arch.as_str()
            )))
        }
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

fn fetched_info(fetched: FetchedImage) -> ImageInfo {
    let m = fetched.meta;
    ImageInfo {
        alias: format!("{}:{}", m.remote, m.alias),
        distro: m.product.split(':').next().unwrap_or_default().to_owned(),
        version: m.version,
        codename: String::new(),
        arch: m.arch.as_str().to_owned(),
        status: "fetched".into(),
        size: Some(m.size),
        built_at: Some(m.fetched_at),
        channel: None,
        origin: Some(format!(
            "fetched from image server {} ({}), product {}, {}",
            m.remote, m.url, m.product, m.ftype
        )),
        sources: vec![m.url],
        packages: m.packages,
        package_manager: m.package_manager,
        sha256: Some(m.sha256),
    }
}
