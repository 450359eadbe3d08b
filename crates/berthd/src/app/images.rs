//! The image library, as the app uses it: list, build and delete cached images (instances'
//! disks are `storage.rs`'s).

use std::path::PathBuf;
use std::sync::Arc;

use berth_image::{CachedImage, Mirrors};
use berth_types::api::{BuildImageRequest, ImageInfo};
use berth_types::{Arch, ImageRef, Operation, OperationKind};

use super::access::{self, Want};
use super::error::error_chain;
use super::operation::OpError;
use super::steps::{Finished, Pending, declare_steps};
use super::{App, AppError, OperationSpec, Principal};
use crate::config::Config;

/// `image_build`: an image of the catalogue, built when missing (or again, when forced).
pub(crate) struct BuildImage {
    image: ImageRef,
    force: bool,
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
        let image = self.image;
        let step = step.begin(format!("building {image}")).await?;
        let progress = |p| step.message(format!("building {image}: {p}"));
        let images = &app.images;
        let build = async {
            if self.force {
                images.rebuild(image, progress).await
            } else {
                images.ensure(image, progress).await
            }
        };
        step.cancellable(build).await?;
        Ok(step.done())
    }
}

pub struct ImageService {
    cache_dir: PathBuf,
    arch: Arch,
    mirrors: Mirrors,
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
        let empty_none = |s: &str| (!s.is_empty()).then(|| s.to_owned());
        let mirrors = Mirrors {
            debian: empty_none(&config.images.debian_mirror),
            ubuntu: empty_none(&config.images.ubuntu_mirror),
            ubuntu_ports: empty_none(&config.images.ubuntu_ports_mirror),
        };
        Ok(Self {
            cache_dir,
            arch,
            mirrors,
        })
    }

    /// The cached image, building it first when missing, telling `progress` how far.
    /// berth-image locks per image, so concurrent creates of one image build it once.
    pub async fn ensure(
        &self,
        image: ImageRef,
        progress: impl FnMut(berth_image::BuildProgress) + Send,
    ) -> Result<CachedImage, OpError> {
        berth_image::ensure_built(&self.cache_dir, image, self.arch, &self.mirrors, progress)
            .await
            .map_err(|e| OpError::Failed(format!("building {image}: {}", error_chain(&e))))
    }

    /// Builds `image` again, replacing the cached one under the same per-image lock.
    pub async fn rebuild(
        &self,
        image: ImageRef,
        progress: impl FnMut(berth_image::BuildProgress) + Send,
    ) -> Result<CachedImage, OpError> {
        berth_image::build(&self.cache_dir, image, self.arch, &self.mirrors, progress)
            .await
            .map_err(|e| OpError::Failed(format!("building {image}: {}", error_chain(&e))))
    }

    fn info(&self, image: ImageRef, cached: Option<&CachedImage>) -> ImageInfo {
        ImageInfo {
            alias: image.to_string(),
            distro: image.distro_str().to_owned(),
            version: image.version.to_owned(),
            codename: image.codename.to_owned(),
            arch: self.arch.as_str().to_owned(),
            status: if cached.is_some() {
                "cached"
            } else {
                "missing"
            }
            .to_owned(),
            size: cached.map(|c| c.size),
            built_at: cached.map(|c| c.built_at),
        }
    }
}

impl App {
    pub fn list_images(&self) -> Result<Vec<ImageInfo>, AppError> {
        let images = &self.images;
        let mut list: Vec<ImageInfo> = ImageRef::all()
            .map(|image| {
                let cached = berth_image::find_cached(&images.cache_dir, image, images.arch);
                images.info(image, cached.as_ref())
            })
            .collect();
        list.extend(self.app_images());
        Ok(list)
    }

    pub fn build_image(
        self: &Arc<Self>,
        caller: &Principal,
        request: BuildImageRequest,
    ) -> Result<Operation, AppError> {
        access::admin(caller, Want::Write)?;
        let image = ImageRef::parse(&request.image)?;
        let spec = OperationSpec {
            kind: OperationKind::ImageBuild,
            owner: caller.username.clone(),
            target: image.to_string(),
            busy: None,
            request: serde_json::to_value(&request).unwrap_or_default(),
            undo: Vec::new(),
        };
        let build = BuildImage {
            image,
            force: request.force,
        };
        self.spawn_saga(spec, build)
    }

    pub fn delete_image(&self, caller: &Principal, alias: &str) -> Result<(), AppError> {
        access::admin(caller, Want::Write)?;
        if let Some(app) = alias.strip_prefix("oci:") {
            return self.delete_app_image(app);
        }
        let image = ImageRef::parse_field(alias, "alias")
            .map_err(|_| AppError::NotFound(format!("image {alias:?}")))?;
        let images = &self.images;
        if berth_image::find_cached(&images.cache_dir, image, images.arch).is_none() {
            return Err(AppError::NotFound(format!("image {image} (not built)")));
        }
        berth_image::delete_cached(&images.cache_dir, image, images.arch)
            .map_err(|e| AppError::internal(&format!("deleting {image}"), error_chain(&e)))
    }

    /// Removes what interrupted image builds left; only safe while no build runs (at start-up).
    pub(crate) fn images_remove_partial(&self) -> Result<(), berth_image::CacheError> {
        berth_image::remove_partial_builds(&self.images.cache_dir)
    }
}
