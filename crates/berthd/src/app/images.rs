//! The image library, as the app uses it: list, build and delete cached images (instances'
//! disks are `storage.rs`'s). Builds report their progress into the operation's percentage.

use std::path::PathBuf;
use std::sync::Arc;

use berth_image::{BuildProgress, CachedImage, Mirrors};
use berth_types::api::{BuildImageRequest, ImageInfo};
use berth_types::{Arch, FieldError, ImageRef, Operation, OperationKind};

use super::access::{self, Want};
use super::error::error_chain;
use super::operation::OpError;
use super::steps::{Finished, Pending, declare_steps};
use super::{App, AppError, OperationSpec, Principal};
use crate::config::Config;

/// `image_build`: an image of the catalogue, built when missing (or again, when forced), or an
/// image server's, fetched.
pub(crate) struct BuildImage {
    source: BuildSource,
    arch: Arch,
    force: bool,
}

enum BuildSource {
    Catalog(ImageRef),
    /// `[[images.remotes]]` entry and the alias on it.
    Server(berth_image::streams::Remote, String),
}

declare_steps! {
    /// The steps of `image_build`. A build happens in a directory of its own that start-up
    /// removes when a build was cut off, so the step needs no undo.
    pub enum BuildStep for BuildImage {
        /// Build it with mmdebstrap and cache it (cancellable).
        Build = "build" => build, undo [];
    }
}

impl BuildImage {
    async fn build(&mut self, app: &App, step: Pending<'_>) -> Result<Finished, OpError> {
        let arch = self.arch;
        let image = match &self.source {
            BuildSource::Catalog(image) => *image,
            BuildSource::Server(remote, alias) => {
                let step = step
                    .begin(format!("fetching {}:{alias}", remote.name))
                    .await?;
                let progress = |percent, message| step.progress(percent, message);
                let fetch = app.images.fetch(remote, alias, arch, self.force, progress);
                step.cancellable(fetch).await?;
                return Ok(step.done());
            }
        };
        let step = step.begin(format!("building {image}")).await?;
        let progress = |percent, message| step.progress(percent, message);
        let images = &app.images;
        let build = async {
            if self.force {
                images.rebuild(image, arch, progress).await
            } else {
                images.ensure(image, arch, progress).await
            }
        };
        step.cancellable(build).await?;
        Ok(step.done())
    }
}

pub struct ImageService {
    pub(super) cache_dir: PathBuf,
    pub(super) arch: Arch,
    mirrors: Mirrors,
    /// `[[images.remotes]]`.
    pub(super) remotes: Vec<berth_image::streams::Remote>,
    /// `[images] refresh_after`: cached images older than this are made again.
    pub(super) refresh_after: Option<std::time::Duration>,
}

impl ImageService {
    pub async fn new(config: &Config) -> Result<Self, AppError> {
        let arch = Arch::host().ok_or_else(|| {
            AppError::Unavailable(format!(
                "architecture {} is not supported; use amd64 or arm64",
                std::env::consts::ARCH
            ))
        })?;
        let cache_dir = config.image_cache_dir();
        std::fs::create_dir_all(&cache_dir)
            .map_err(|e| AppError::internal(&format!("creating {}", cache_dir.display()), e))?;
        // Cached images hold setuid-root programs too (they may live outside the data dir).
        super::owner_only(&cache_dir)?;
        let mirrors = config.images.mirrors();
        Ok(Self {
            cache_dir,
            arch,
            mirrors,
            remotes: config.images.remotes(),
            refresh_after: config
                .images
                .refresh_after()
                .map_err(|e| AppError::internal("images.refresh_after", e))?,
        })
    }

    /// The architecture a request asks for (the host's when absent), if this host can run it:
    /// a foreign one needs qemu-user and its binfmt handler, registered here when missing.
    pub fn arch_for(&self, raw: Option<&str>) -> Result<Arch, FieldError> {
        let Some(raw) = raw.filter(|r| !r.is_empty()) else {
            return Ok(self.arch);
        };
        let arch = Arch::parse_field(raw, "arch")?;
        berth_image::foreign::ensure(arch).map_err(|e| {
            FieldError::new(
                "arch",
                format!(
                    "{} cannot run on this host: {}",
                    arch.as_str(),
                    error_chain(&e)
                ),
            )
        })?;
        Ok(arch)
    }

    /// The cached image, building it first when missing, telling `report` how far (percent of
    /// the build, message); a cached image goes straight through. berth-image locks per image,
    /// so concurrent creates of one image build it once.
    pub async fn ensure(
        &self,
        image: ImageRef,
        arch: Arch,
        report: impl Fn(u8, String) + Send + Sync,
    ) -> Result<CachedImage, OpError> {
        let progress = |p: BuildProgress| report(p.percent, self.message(image, arch, &p));
        berth_image::ensure_built(&self.cache_dir, image, arch, &self.mirrors, progress)
            .await
            .map_err(|e| OpError::Failed(format!("building {image}: {}", error_chain(&e))))
    }

    /// Builds `image` again, replacing the cached one under the same per-image lock; instances
    /// made from the old one keep their own copy.
    pub async fn rebuild(
        &self,
        image: ImageRef,
        arch: Arch,
        report: impl Fn(u8, String) + Send + Sync,
    ) -> Result<CachedImage, OpError> {
        let progress = |p: BuildProgress| report(p.percent, self.message(image, arch, &p));
        berth_image::build(&self.cache_dir, image, arch, &self.mirrors, progress)
            .await
            .map_err(|e| OpError::Failed(format!("building {image}: {}", error_chain(&e))))
    }

    fn message(&self, image: ImageRef, arch: Arch, progress: &BuildProgress) -> String {
        if arch == self.arch {
            format!("building {image}: {progress}")
        } else {
            format!("building {image} for {}: {progress}", arch.as_str())
        }
    }

    /// Whether `arch` guests run through qemu-user here.
    pub(crate) fn is_foreign(&self, arch: Arch) -> bool {
        arch != self.arch
    }

    pub(crate) fn find(&self, image: ImageRef, arch: Arch) -> Option<CachedImage> {
        berth_image::find_cached(&self.cache_dir, image, arch)
    }

    fn info(image: ImageRef, arch: Arch, cached: Option<&CachedImage>) -> ImageInfo {
        ImageInfo {
            alias: image.to_string(),
            distro: image.distro_str().to_owned(),
            version: image.version.to_owned(),
            codename: image.codename.to_owned(),
            arch: arch.as_str().to_owned(),
            status: if cached.is_some() {
                "cached"
            } else {
                "missing"
            }
            .to_owned(),
            size: cached.map(|c| c.size),
            built_at: cached.map(|c| c.built_at),
            channel: Some(image.channel.as_str().to_owned()),
            sources: cached.map(|c| c.sources.clone()).unwrap_or_default(),
            packages: cached.and_then(|c| c.packages),
            package_manager: cached.and_then(|c| c.packages).map(|_| "dpkg".to_owned()),
            origin: cached.map(|c| built_from(&c.sources)),
            sha256: None,
        }
    }
}

/// `built by Berth from MIRROR`, the mirror read from the first apt source
/// (`deb http://deb.debian.org/debian bookworm main`).
fn built_from(sources: &[String]) -> String {
    let mirror = sources
        .first()
        .and_then(|s| s.split_whitespace().find(|w| w.contains("://")));
    match mirror {
        Some(mirror) => format!("built by Berth from {mirror}"),
        None => "built by Berth".to_owned(),
    }
}

impl App {
    /// Every catalogue image for the host's architecture (cached or not), the cached images of
    /// other architectures, then imported application images.
    pub fn list_images(&self) -> Result<Vec<ImageInfo>, AppError> {
        let images = &self.images;
        let mut list: Vec<ImageInfo> = ImageRef::all()
            .map(|image| {
                let cached = images.find(image, images.arch);
                ImageService::info(image, images.arch, cached.as_ref())
            })
            .collect();
        let cached = berth_image::list_cached(&images.cache_dir)
            .map_err(|e| AppError::internal("listing the image cache", error_chain(&e)))?;
        list.extend(
            cached
                .iter()
                .filter(|c| c.arch != images.arch)
                .map(|c| ImageService::info(c.image, c.arch, Some(c))),
        );
        list.extend(self.fetched_images());
        list.extend(self.app_images());
        Ok(list)
    }

    /// One image: `debian/12` (the host's architecture) with `arch` to ask for another.
    pub fn image_info(&self, alias: &str, arch: Option<&str>) -> Result<ImageInfo, AppError> {
        if let Some((remote, on_server)) = self.server_image(alias)? {
            return self.fetched_image_info(&remote, &on_server, arch);
        }
        let image = ImageRef::parse_field(alias, "alias")
            .map_err(|_| AppError::NotFound(format!("image {alias:?}")))?;
        let arch = match arch {
            Some(raw) => Arch::parse_field(raw, "arch")?,
            None => self.images.arch,
        };
        let cached = self.images.find(image, arch);
        Ok(ImageService::info(image, arch, cached.as_ref()))
    }

    pub fn build_image(
        self: &Arc<Self>,
        caller: &Principal,
        request: BuildImageRequest,
    ) -> Result<Operation, AppError> {
        access::admin(caller, Want::Write)?;
        let source = match self.server_image(&request.image)? {
            Some((remote, alias)) => BuildSource::Server(remote, alias),
            None => BuildSource::Catalog(ImageRef::parse(&request.image)?),
        };
        let arch = self.images.arch_for(request.arch.as_deref())?;
        let shown = match &source {
            BuildSource::Catalog(image) => image.to_string(),
            BuildSource::Server(remote, alias) => format!("{}:{alias}", remote.name),
        };
        let target = if arch == self.images.arch {
            shown
        } else {
            format!("{shown} ({})", arch.as_str())
        };
        let spec = OperationSpec {
            kind: OperationKind::ImageBuild,
            owner: caller.username.clone(),
            target,
            busy: None,
            request: serde_json::to_value(&request).unwrap_or_default(),
            undo: Vec::new(),
        };
        let build = BuildImage {
            source,
            arch,
            force: request.force,
        };
        self.spawn_saga(spec, build)
    }

    pub fn delete_image(
        &self,
        caller: &Principal,
        alias: &str,
        arch: Option<&str>,
    ) -> Result<(), AppError> {
        access::admin(caller, Want::Write)?;
        if let Some(app) = alias.strip_prefix("oci:") {
            return self.delete_app_image(app);
        }
        if let Some((remote, on_server)) = self.server_image(alias)? {
            return self.delete_fetched_image(&remote, &on_server, arch);
        }
        let image = ImageRef::parse_field(alias, "alias")
            .map_err(|_| AppError::NotFound(format!("image {alias:?}")))?;
        let arch = match arch {
            Some(raw) => Arch::parse_field(raw, "arch")?,
            None => self.images.arch,
        };
        let images = &self.images;
        if images.find(image, arch).is_none() {
            return Err(AppError::NotFound(format!(
                "image {image} for {} (not built)",
                arch.as_str()
            )));
        }
        berth_image::delete_cached(&images.cache_dir, image, arch)
            .map_err(|e| AppError::internal(&format!("deleting {image}"), error_chain(&e)))
    }

    /// Removes what interrupted image builds left; only safe while no build runs (at start-up).
    pub(crate) fn images_remove_partial(&self) -> Result<(), berth_image::CacheError> {
        if let Err(e) = berth_image::streams::remove_partial_fetches(&self.images.cache_dir) {
            tracing::warn!(error = %error_chain(&e), "sweeping interrupted image fetches");
        }
        berth_image::remove_partial_builds(&self.images.cache_dir)
    }
}
