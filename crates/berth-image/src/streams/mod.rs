//! Image servers speaking simplestreams, as Incus and LXC use (`images.linuxcontainers.org`):
//! listing a server's catalogue and fetching one image's root filesystem into the cache. The
//! rootfs item of the product's latest version is downloaded, checked against the size and
//! sha256 the index declares before anything is unpacked, unpacked with the hardened rules of
//! [`unpack`], and kept at `<cache_dir>/streams/<remote>/<key>/{rootfs,image.json}`; a second
//! fetch of the same alias and architecture uses the cache without asking the server.

mod cached;
mod http;
pub mod index;
pub mod unpack;

use std::io::Write;
use std::path::{Path, PathBuf};

use berth_types::Arch;
use chrono::Utc;
use sha2::{Digest, Sha256};
use tracing::{info, warn};

pub use cached::{
    FetchedImage, FetchedMeta, delete_fetched, find_fetched, list_fetched, remove_partial_fetches,
};
pub use index::{Form, Item, RemoteImage};
pub use unpack::UnpackLimits;

use crate::cache::{KeyLock, build_dir};

/// The version of the cached layout; entries of another are fetched again.
pub const FORMAT_VERSION: u32 = 1;
/// The largest index or product file read.
const MAX_INDEX: u64 = 64 << 20;
pub(crate) const META: &str = "image.json";
pub(crate) const ROOTFS: &str = "rootfs";

#[derive(Debug, thiserror::Error)]
pub enum StreamsError {
    #[error("image server name {name:?}: {why}")]
    BadRemote { name: String, why: String },
    #[error("image alias {alias:?}: use letters, digits and . _ - / : (e.g. alpine/3.20)")]
    BadAlias { alias: String },
    #[error("image remote {0:?} is not configured; add it as [[images.remotes]] in berthd.toml")]
    UnknownRemote(String),
    #[error("{url}: {why}")]
    Http { url: String, why: String },
    #[error("{url}: the server answered HTTP {status}")]
    Status { url: String, status: u16 },
    #[error("{url} is not a simplestreams file: {why}")]
    Malformed { url: String, why: String },
    #[error("the image server names the path {path:?}, which leaves its base URL; refusing it")]
    UnsafePath { path: String },
    #[error("{url}: more than {limit} bytes; refusing it")]
    TooBig { url: String, limit: u64 },
    #[error("{remote} has no image {alias:?} for {arch}{}", known_list(.known))]
    NotFound {
        remote: String,
        alias: String,
        arch: &'static str,
        known: Vec<String>,
    },
    #[error("{url}: received {got} bytes, the index declares {declared}; nothing was kept")]
    Size {
        url: String,
        declared: u64,
        got: u64,
    },
    #[error("{url}: sha256 {got} is not the {expected} the index declares; nothing was kept")]
    Checksum {
        url: String,
        expected: String,
        got: String,
    },
    #[error(
        "this image is offered only as squashfs, which Berth does not unpack; pick an image \
         with a root.tar.xz or a combined tarball"
    )]
    Squashfs,
    #[error("{tool}: {why}")]
    Tool { tool: &'static str, why: String },
    #[error("rootfs archive entry {entry:?}: {reason}; nothing was kept")]
    Entry { entry: String, reason: String },
    #[error("the rootfs unpacks to {0}; refusing it")]
    Unpacked(String),
    #[error(transparent)]
    Io(#[from] berth_storage::fsio::PathIoError),
    #[error(transparent)]
    Rootfs(#[from] berth_guestfs::rootfs::RootfsError),
    #[error(transparent)]
    Cache(#[from] crate::CacheError),
    #[error("cannot write the metadata {}", .0.display())]
    Meta(PathBuf, #[source] serde_json::Error),
}

fn known_list(known: &[String]) -> String {
    if known.is_empty() {
        String::new()
    } else {
        format!("; it has {}", known.join(", "))
    }
}

/// A configured image server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Remote {
    /// `[a-z0-9][a-z0-9-]*`, up to 32 characters: what `NAME:alias` refers to.
    pub name: String,
    /// The base URL; `streams/v1/index.json` is under it.
    pub url: String,
}

impl Remote {
    /// Checks the name and URL (`field` names the setting in errors).
    pub fn validate(&self) -> Result<(), StreamsError> {
        let bad = |why: &str| StreamsError::BadRemote {
            name: self.name.clone(),
            why: why.to_owned(),
        };
        let name_ok = berth_types::ServerImage::valid_remote(&self.name);
        if !name_ok {
            return Err(bad(
                "the name must be lower-case letters, digits and -, up to 32 characters",
            ));
        }
        if http::Url::parse(&self.url).is_none() {
            return Err(bad(
                "the url must be http:// or https:// with a host, e.g. \
                 https://images.linuxcontainers.org",
            ));
        }
        Ok(())
    }

    fn join(&self, path: &str) -> String {
        format!("{}/{path}", self.url.trim_end_matches('/'))
    }
}

/// Checks an alias as asked for (`alpine/3.20`): plain characters, no `..`, not absolute.
pub fn check_alias(alias: &str) -> Result<(), StreamsError> {
    let ok = berth_types::ServerImage::valid_alias(alias);
    if ok {
        Ok(())
    } else {
        Err(StreamsError::BadAlias {
            alias: alias.to_owned(),
        })
    }
}

/// The cache key of an alias on one architecture: `alpine_3.20-amd64`.
pub(crate) fn key(alias: &str, arch: Arch) -> String {
    format!("{}-{}", alias.replace(['/', ':'], "_"), arch.as_str())
}

pub(crate) fn remote_dir(cache_dir: &Path, remote: &str) -> PathBuf {
    cache_dir.join("streams").join(remote)
}

/// The catalogue of `remote`: every image it offers with a rootfs, sorted by alias and arch.
pub async fn catalogue(remote: &Remote) -> Result<Vec<RemoteImage>, StreamsError> {
    remote.validate()?;
    let index_url = remote.join("streams/v1/index.json");
    let index = http::get_bytes(&index_url, MAX_INDEX).await?;
    let mut images = Vec::new();
    for path in index::product_files(&index, &index_url)? {
        let url = remote.join(&path);
        let text = http::get_bytes(&url, MAX_INDEX).await?;
        images.extend(index::images(&text, &url)?);
    }
    images.sort_by(|a, b| (&a.aliases[0], a.arch.as_str()).cmp(&(&b.aliases[0], b.arch.as_str())));
    images.dedup_by(|a, b| a.product == b.product);
    Ok(images)
}

/// The image `alias` for `arch` from `remote`: from the cache when it is there, else the
/// latest version's rootfs downloaded, verified, unpacked and cached. `progress` is told the
/// bytes received and the total.
pub async fn fetch(
    cache_dir: &Path,
    remote: &Remote,
    alias: &str,
    arch: Arch,
    limits: UnpackLimits,
    progress: impl FnMut(u64, u64),
) -> Result<FetchedImage, StreamsError> {
    remote.validate()?;
    check_alias(alias)?;
    if let Some(found) = find_fetched(cache_dir, &remote.name, alias, arch) {
        return Ok(found);
    }
    fetch_locked(cache_dir, remote, alias, arch, limits, progress, true).await
}

/// The image `alias` for `arch` from `remote`, downloaded again whether cached or not: the
/// new one is checked and unpacked beside the cached one, which it replaces only once
/// complete (a failure leaves the cached one as it was). Instances made from the old one
/// have their own copies.
pub async fn refetch(
    cache_dir: &Path,
    remote: &Remote,
    alias: &str,
    arch: Arch,
    limits: UnpackLimits,
    progress: impl FnMut(u64, u64),
) -> Result<FetchedImage, StreamsError> {
    remote.validate()?;
    check_alias(alias)?;
    fetch_locked(cache_dir, remote, alias, arch, limits, progress, false).await
}

async fn fetch_locked(
    cache_dir: &Path,
    remote: &Remote,
    alias: &str,
    arch: Arch,
    limits: UnpackLimits,
    mut progress: impl FnMut(u64, u64),
    reuse: bool,
) -> Result<FetchedImage, StreamsError> {
    let dir = remote_dir(cache_dir, &remote.name);
    std::fs::create_dir_all(&dir).map_err(berth_storage::fsio::io("create", &dir))?;
    let key = key(alias, arch);
    let _lock = KeyLock::acquire(&dir, &key).await?;
    if reuse && let Some(found) = find_fetched(cache_dir, &remote.name, alias, arch) {
        return Ok(found);
    }
    let images = catalogue(remote).await?;
    let Some(image) = images.iter().find(|i| index::matches(i, alias, arch)) else {
        return Err(StreamsError::NotFound {
            remote: remote.name.clone(),
            alias: alias.to_owned(),
            arch: arch.as_str(),
            known: images
                .iter()
                .filter(|i| i.arch == arch)
                .map(|i| i.aliases[0].clone())
                .take(20)
                .collect(),
        });
    };
    if image.rootfs.form == Form::Squashfs {
        return Err(StreamsError::Squashfs);
    }
    let build = build_dir(&dir, &key);
    let result = fetch_into(&build, remote, image, limits, &mut progress).await;
    let size = match result {
        Ok(size) => size,
        Err(e) => {
            if let Err(clean) = berth_storage::tree::remove_tree(&build) {
                warn!(dir = %build.display(), error = %clean, "cannot remove a failed fetch");
            }
            return Err(e);
        }
    };
    let packages = crate::packages::count(&build.join(ROOTFS));
    let meta = FetchedMeta {
        format_version: FORMAT_VERSION,
        remote: remote.name.clone(),
        url: remote.url.clone(),
        alias: alias.to_owned(),
        arch,
        product: image.product.clone(),
        version: image.version.clone(),
        ftype: image.rootfs.ftype.clone(),
        sha256: image.rootfs.sha256.clone(),
        size,
        fetched_at: Utc::now(),
        packages: packages.map(|p| p.count),
        package_manager: packages.map(|p| p.manager.to_owned()),
    };
    let meta_path = build.join(META);
    let text =
        serde_json::to_vec_pretty(&meta).map_err(|e| StreamsError::Meta(meta_path.clone(), e))?;
    std::fs::write(&meta_path, text).map_err(berth_storage::fsio::io("write", &meta_path))?;
    let place = dir.join(&key);
    if place.exists() {
        berth_storage::tree::remove_tree(&place)?;
    }
    std::fs::rename(&build, &place).map_err(berth_storage::fsio::io("rename", &build))?;
    info!(remote = %remote.name, alias, arch = arch.as_str(), version = %image.version,
        "fetched an image from an image server");
    Ok(FetchedImage {
        rootfs: place.join(ROOTFS),
        dir: place,
        meta,
    })
}

/// Downloads `image`'s rootfs into `build`, checks it, unpacks it into `build/rootfs` and
/// removes the download; returns the bytes unpacked.
async fn fetch_into(
    build: &Path,
    remote: &Remote,
    image: &RemoteImage,
    limits: UnpackLimits,
    progress: &mut impl FnMut(u64, u64),
) -> Result<u64, StreamsError> {
    let item = &image.rootfs;
    let url = remote.join(&item.path);
    let rootfs = build.join(ROOTFS);
    std::fs::create_dir_all(&rootfs).map_err(berth_storage::fsio::io("create", &rootfs))?;
    let name = item.path.rsplit('/').next().unwrap_or("rootfs");
    let download = build.join(format!("download.{name}"));
    let mut file =
        std::fs::File::create(&download).map_err(berth_storage::fsio::io("create", &download))?;
    let mut hasher = Sha256::new();
    let mut received = 0u64;
    let got = http::get(&url, item.size, |chunk| {
        hasher.update(chunk);
        received += chunk.len() as u64;
        progress(received, item.size);
        file.write_all(chunk)
            .map_err(|e| StreamsError::Io(berth_storage::fsio::io("write", &download)(e)))
    })
    .await?;
    file.sync_all()
        .map_err(berth_storage::fsio::io("write", &download))?;
    drop(file);
    if got != item.size {
        return Err(StreamsError::Size {
            url,
            declared: item.size,
            got,
        });
    }
    let digest: String = hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    if digest != item.sha256 {
        return Err(StreamsError::Checksum {
            url,
            expected: item.sha256.clone(),
            got: digest,
        });
    }
    let form = item.form;
    let archive = download.clone();
    let size = tokio::task::spawn_blocking(move || unpack::unpack(&archive, form, &rootfs, limits))
        .await
        .map_err(|e| StreamsError::Tool {
            tool: "unpack",
            why: e.to_string(),
        })??;
    std::fs::remove_file(&download).map_err(berth_storage::fsio::io("remove", &download))?;
    Ok(size)
}
