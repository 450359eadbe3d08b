//! The simplestreams catalogue: `streams/v1/index.json` names the product files
//! (`datatype: image-downloads`, usually `streams/v1/images.json`); each product
//! (`alpine:3.20:amd64:default`) has aliases, an architecture and versions, each version items
//! (`ftype`, `path`, `sha256`, `size`). Nothing here is trusted: paths are checked before they
//! become URLs, hashes and sizes before they are used.

use std::collections::BTreeMap;
use std::path::{Component, Path};

use berth_types::Arch;
use serde::Deserialize;

use super::StreamsError;

/// The rootfs forms Berth unpacks, best first: a split root tarball, a combined image
/// (metadata and `rootfs/` in one tarball), a squashfs (needs `unsquashfs`).
const ROOTFS_FTYPES: &[(&str, Form)] = &[
    ("root.tar.xz", Form::Tar),
    ("incus_combined.tar.gz", Form::Combined),
    ("lxd_combined.tar.gz", Form::Combined),
    ("incus_combined.tar.xz", Form::Combined),
    ("lxd_combined.tar.xz", Form::Combined),
    ("squashfs", Form::Squashfs),
];

/// How a rootfs item is packed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Form {
    /// The tarball is the root filesystem.
    Tar,
    /// The tarball holds `metadata.yaml` and `rootfs/`; only `rootfs/` is unpacked.
    Combined,
    Squashfs,
}

/// One downloadable file of a version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    pub ftype: String,
    /// Relative to the server's base URL; checked to stay under it.
    pub path: String,
    /// Lower-case hex.
    pub sha256: String,
    pub size: u64,
    pub form: Form,
}

/// An image the server offers for one architecture, at its latest version with a rootfs Berth
/// can use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteImage {
    /// The product id, `alpine:3.20:amd64:default`.
    pub product: String,
    /// `alpine/3.20/default`, `alpine/3.20`, … (the first is the canonical one).
    pub aliases: Vec<String>,
    pub os: String,
    pub release: String,
    pub variant: String,
    pub arch: Arch,
    /// The latest version's name (`20240601_13:00`).
    pub version: String,
    pub rootfs: Item,
}

#[derive(Deserialize)]
struct Index {
    index: BTreeMap<String, IndexEntry>,
}

#[derive(Deserialize)]
struct IndexEntry {
    #[serde(default)]
    datatype: String,
    path: String,
}

#[derive(Deserialize)]
struct Products {
    products: BTreeMap<String, Product>,
}

#[derive(Deserialize)]
struct Product {
    #[serde(default)]
    aliases: String,
    #[serde(default)]
    arch: String,
    #[serde(default)]
    os: String,
    #[serde(default)]
    release: String,
    #[serde(default)]
    variant: String,
    #[serde(default)]
    versions: BTreeMap<String, Version>,
}

#[derive(Deserialize)]
struct Version {
    #[serde(default)]
    items: BTreeMap<String, RawItem>,
}

#[derive(Deserialize)]
struct RawItem {
    #[serde(default)]
    ftype: String,
    path: Option<String>,
    sha256: Option<String>,
    size: Option<u64>,
}

/// The product files `index.json` names (relative paths, checked).
pub fn product_files(text: &[u8], url: &str) -> Result<Vec<String>, StreamsError> {
    let index: Index = serde_json::from_slice(text).map_err(|e| StreamsError::Malformed {
        url: url.to_owned(),
        why: e.to_string(),
    })?;
    let mut paths: Vec<String> = Vec::new();
    for entry in index.index.into_values() {
        if entry.datatype != "image-downloads" {
            continue;
        }
        check_path(&entry.path)?;
        if !paths.contains(&entry.path) {
            paths.push(entry.path);
        }
    }
    if paths.is_empty() {
        return Err(StreamsError::Malformed {
            url: url.to_owned(),
            why: "it names no image-downloads product file".into(),
        });
    }
    Ok(paths)
}

/// Every product of a product file with a usable rootfs, for architectures Berth knows.
/// Products whose items lack a hash or size are left out (with a debug log), not fatal: a
/// server's odd entry must not hide the rest. A path leaving the server's tree refuses the
/// whole file.
pub fn images(text: &[u8], url: &str) -> Result<Vec<RemoteImage>, StreamsError> {
    let products: Products = serde_json::from_slice(text).map_err(|e| StreamsError::Malformed {
        url: url.to_owned(),
        why: e.to_string(),
    })?;
    let mut out = Vec::new();
    for (id, product) in products.products {
        let Ok(arch) = Arch::parse_field(&product.arch, "arch") else {
            continue;
        };
        // Version names sort by time (`20240601_13:00`): the last with a rootfs wins.
        let latest = product
            .versions
            .iter()
            .rev()
            .find_map(|(name, v)| rootfs_item(v).map(|item| (name, item)));
        let Some((version, item)) = latest else {
            continue;
        };
        let rootfs = match item {
            Ok(item) => item,
            // A path out of the server's tree is tampering, not an odd entry.
            Err(e @ StreamsError::UnsafePath { .. }) => return Err(e),
            Err(e) => {
                tracing::debug!(product = %id, error = %e, "simplestreams: item left out");
                continue;
            }
        };
        let mut aliases: Vec<String> = product
            .aliases
            .split(',')
            .map(str::trim)
            .filter(|a| !a.is_empty())
            .map(str::to_owned)
            .collect();
        if aliases.is_empty() {
            aliases.push(format!("{}/{}", product.os.to_lowercase(), product.release));
        }
        out.push(RemoteImage {
            product: id,
            aliases,
            os: product.os,
            release: product.release,
            variant: product.variant,
            arch,
            version: version.clone(),
            rootfs,
        });
    }
    Ok(out)
}

/// The best rootfs item of a version (`None` when it has none), checked.
fn rootfs_item(version: &Version) -> Option<Result<Item, StreamsError>> {
    ROOTFS_FTYPES.iter().find_map(|(ftype, form)| {
        let raw = version.items.values().find(|i| i.ftype == *ftype)?;
        Some(checked_item(raw, *form))
    })
}

fn checked_item(raw: &RawItem, form: Form) -> Result<Item, StreamsError> {
    let field = |what: &str| StreamsError::Malformed {
        url: raw.path.clone().unwrap_or_default(),
        why: format!("item {:?} has no valid {what}", raw.ftype),
    };
    let path = raw.path.clone().ok_or_else(|| field("path"))?;
    check_path(&path)?;
    let sha256 = raw
        .sha256
        .as_deref()
        .filter(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()))
        .ok_or_else(|| field("sha256"))?
        .to_ascii_lowercase();
    let size = raw.size.filter(|s| *s > 0).ok_or_else(|| field("size"))?;
    Ok(Item {
        ftype: raw.ftype.clone(),
        path,
        sha256,
        size,
        form,
    })
}

/// A path from the server must stay under its base URL: relative, no `..`, no scheme, no
/// query, only plain characters.
pub fn check_path(path: &str) -> Result<(), StreamsError> {
    let bad = || StreamsError::UnsafePath {
        path: path.to_owned(),
    };
    let plain = path
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"/._-:+~".contains(&b));
    if path.is_empty() || !plain || path.starts_with('/') || path.contains("//") {
        return Err(bad());
    }
    if Path::new(path)
        .components()
        .any(|c| !matches!(c, Component::Normal(_)))
    {
        return Err(bad());
    }
    Ok(())
}

/// Whether `image` answers to `alias` (one of its aliases, `os/release`, or its product id)
/// on `arch`.
pub fn matches(image: &RemoteImage, alias: &str, arch: Arch) -> bool {
    image.arch == arch
        && (image.product == alias
            || image.aliases.iter().any(|a| a == alias)
            || format!("{}/{}", image.os.to_lowercase(), image.release) == alias)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_stay_under_the_base() {
        assert!(check_path("images/alpine/3.20/amd64/default/20240601_13:00/root.tar.xz").is_ok());
        for bad in [
            "/etc/passwd",
            "../x",
            "images/../../x",
            "http://evil/x",
            "images//x",
            "a?b",
            "",
            "./x",
        ] {
            assert!(check_path(bad).is_err(), "{bad}");
        }
    }
}
