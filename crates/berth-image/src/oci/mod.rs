//! Importing an application image: an OCI image layout (a directory, or a tar of one, as
//! `skopeo copy … oci-archive:` or `docker buildx --output type=oci` write) or a `docker save`
//! archive, unpacked layer by layer (whiteouts applied) into a root filesystem, with the
//! image's run config (Entrypoint, Cmd, Env, WorkingDir). Nothing is pulled from a registry.
//! Blobs of an OCI layout are checked against their sha256 digests; no entry may land
//! outside the target.

use std::fs::{self, File};
use std::io::{BufReader, Read, Seek};
use std::path::{Component, Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

#[derive(Debug, thiserror::Error)]
pub enum OciError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("not an OCI layout or docker archive: no index.json or manifest.json in {0}")]
    NotAnImage(PathBuf),
    #[error("image {what} is malformed: {why}")]
    Malformed { what: String, why: String },
    #[error("blob {0} does not match its digest")]
    Digest(String),
    #[error("layer {layer}: entry {entry:?} would land outside the root filesystem")]
    Escapes { layer: String, entry: String },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> OciError + '_ {
    move |source| OciError::Io {
        path: path.to_owned(),
        source,
    }
}

fn malformed(what: &str, why: impl std::fmt::Display) -> OciError {
    OciError::Malformed {
        what: what.to_owned(),
        why: why.to_string(),
    }
}

/// How the image wants to be run (its config's `config` object).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppConfig {
    pub entrypoint: Vec<String>,
    pub cmd: Vec<String>,
    /// `KEY=VALUE` strings.
    pub env: Vec<String>,
    pub working_dir: Option<String>,
}

impl AppConfig {
    /// The argv of a run: the entrypoint, then `args` (or the image's Cmd when `args` is
    /// empty), as `docker run IMAGE ARGS…` does.
    pub fn argv(&self, args: &[String]) -> Vec<String> {
        let tail = if args.is_empty() { &self.cmd } else { args };
        self.entrypoint.iter().chain(tail).cloned().collect()
    }
}

/// Unpacks the image at `source` (a directory or a tar, optionally gzip-compressed) into
/// `rootfs` (an existing, empty directory) and returns its run config. `scratch` is an
/// empty directory for unpacking an archive first; the caller removes it.
pub fn import(source: &Path, rootfs: &Path, scratch: &Path) -> Result<AppConfig, OciError> {
    let dir = if source.is_dir() {
        source.to_owned()
    } else {
        let file = File::open(source).map_err(io(source))?;
        let mut archive = tar::Archive::new(decompress(file, source)?);
        archive.unpack(scratch).map_err(io(source))?;
        scratch.to_owned()
    };
    let (config, layers) = if dir.join("index.json").is_file() {
        oci_layout(&dir)?
    } else if dir.join("manifest.json").is_file() {
        docker_archive(&dir)?
    } else {
        return Err(OciError::NotAnImage(source.to_owned()));
    };
    for layer in &layers {
        apply_layer(layer, rootfs)?;
    }
    Ok(config)
}

fn read_json(path: &Path) -> Result<Value, OciError> {
    let text = fs::read(path).map_err(io(path))?;
    serde_json::from_slice(&text).map_err(|e| malformed(&path.display().to_string(), e))
}

/// `blobs/<algorithm>/<hex>` for a digest, checked against the file's sha256.
fn blob(dir: &Path, digest: &str) -> Result<PathBuf, OciError> {
    let (alg, hex) = digest
        .split_once(':')
        .ok_or_else(|| malformed("digest", digest))?;
    if alg != "sha256" || hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(malformed(
            "digest",
            format!("{digest}: only sha256 is supported"),
        ));
    }
    let path = dir.join("blobs").join(alg).join(hex);
    let mut file = File::open(&path).map_err(io(&path))?;
    let mut hasher = Sha256::new();
    std::io::copy(&mut file, &mut hasher).map_err(io(&path))?;
    let got: String = hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    if got != hex.to_ascii_lowercase() {
        return Err(OciError::Digest(digest.to_owned()));
    }
    Ok(path)
}

/// index.json → the first image manifest (following nested indexes) → config and layers.
fn oci_layout(dir: &Path) -> Result<(AppConfig, Vec<PathBuf>), OciError> {
    let mut doc = read_json(&dir.join("index.json"))?;
    for _ in 0..4 {
        if doc.get("layers").is_some() {
            let digest = doc["config"]["digest"]
                .as_str()
                .ok_or_else(|| malformed("manifest", "no config digest"))?;
            let config = app_config(&read_json(&blob(dir, digest)?)?);
            let layers = doc["layers"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|l| {
                    let d = l["digest"]
                        .as_str()
                        .ok_or_else(|| malformed("manifest", "a layer has no digest"))?;
                    blob(dir, d)
                })
                .collect::<Result<Vec<_>, _>>()?;
            return Ok((config, layers));
        }
        let digest = doc["manifests"][0]["digest"]
            .as_str()
            .ok_or_else(|| malformed("index.json", "no manifests"))?
            .to_owned();
        doc = read_json(&blob(dir, &digest)?)?;
    }
    Err(malformed("index.json", "indexes nested too deep"))
}

/// A relative path inside the archive directory, refusing `..` and absolute paths.
fn inside(dir: &Path, rel: &str) -> Result<PathBuf, OciError> {
    let path = Path::new(rel);
    if path
        .components()
        .any(|c| !matches!(c, Component::Normal(_) | Component::CurDir))
    {
        return Err(malformed(
            "manifest.json",
            format!("path {rel:?} leaves the archive"),
        ));
    }
    Ok(dir.join(path))
}

/// `docker save`: manifest.json names the config file and the layer tars.
fn docker_archive(dir: &Path) -> Result<(AppConfig, Vec<PathBuf>), OciError> {
    let manifest = read_json(&dir.join("manifest.json"))?;
    let entry = &manifest[0];
    let config = entry["Config"]
        .as_str()
        .ok_or_else(|| malformed("manifest.json", "no Config"))?;
    let config = app_config(&read_json(&inside(dir, config)?)?);
    let layers = entry["Layers"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|l| {
            let rel = l
                .as_str()
                .ok_or_else(|| malformed("manifest.json", "a layer is not a path"))?;
            inside(dir, rel)
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok((config, layers))
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s.as_str().map(str::to_owned))
        .collect()
}

fn app_config(doc: &Value) -> AppConfig {
    let c = &doc["config"];
    AppConfig {
        entrypoint: strings(&c["Entrypoint"]),
        cmd: strings(&c["Cmd"]),
        env: strings(&c["Env"]),
        working_dir: c["WorkingDir"]
            .as_str()
            .filter(|w| !w.is_empty())
            .map(str::to_owned),
    }
}

/// A reader over `file`, gunzipped or un-zstd'ed when its magic says so.
fn decompress(mut file: File, path: &Path) -> Result<Box<dyn Read>, OciError> {
    let mut magic = [0u8; 4];
    let n = file.read(&mut magic).map_err(io(path))?;
    file.rewind().map_err(io(path))?;
    let reader = BufReader::new(file);
    Ok(match &magic[..n] {
        [0x1f, 0x8b, ..] => Box::new(flate2::read::GzDecoder::new(reader)),
        [0x28, 0xb5, 0x2f, 0xfd] => Box::new(zstd::Decoder::new(reader).map_err(io(path))?),
        _ => Box::new(reader),
    })
}

/// Unpacks one layer over `rootfs`: `.wh.NAME` removes NAME from the layers below,
/// `.wh..wh..opq` empties its directory; everything else is unpacked inside `rootfs` only.
fn apply_layer(layer: &Path, rootfs: &Path) -> Result<(), OciError> {
    let shown = layer.display().to_string();
    let root = fs::canonicalize(rootfs).map_err(io(rootfs))?;
    let file = File::open(layer).map_err(io(layer))?;
    let mut archive = tar::Archive::new(decompress(file, layer)?);
    archive.set_preserve_permissions(true);
    archive.set_preserve_ownerships(true);
    archive.set_unpack_xattrs(false);
    archive.set_overwrite(true);
    for entry in archive.entries().map_err(io(layer))? {
        let mut entry = entry.map_err(io(layer))?;
        let path = entry.path().map_err(io(layer))?.into_owned();
        let escapes = || OciError::Escapes {
            layer: shown.clone(),
            entry: path.display().to_string(),
        };
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
        match name.as_deref() {
            Some(".wh..wh..opq") => {
                let dir = resolved_parent(&root, &path).ok_or_else(escapes)?;
                for child in fs::read_dir(&dir).into_iter().flatten().flatten() {
                    remove(&child.path())?;
                }
            }
            Some(n) if n.starts_with(".wh.") => {
                let dir = resolved_parent(&root, &path).ok_or_else(escapes)?;
                remove(&dir.join(&n[4..]))?;
            }
            _ => {
                let done = entry.unpack_in(&root).map_err(io(layer))?;
                if !done {
                    return Err(escapes());
                }
            }
        }
    }
    Ok(())
}

/// The directory holding `entry` inside `root`, symlinks resolved, if it stays inside.
fn resolved_parent(root: &Path, entry: &Path) -> Option<PathBuf> {
    let rel: PathBuf = entry
        .parent()?
        .components()
        .filter(|c| !matches!(c, Component::CurDir))
        .map(|c| match c {
            Component::Normal(p) => Some(p),
            _ => None,
        })
        .collect::<Option<PathBuf>>()?;
    let dir = fs::canonicalize(root.join(rel)).ok()?;
    dir.starts_with(root).then_some(dir)
}

fn remove(path: &Path) -> Result<(), OciError> {
    let result = match fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => fs::remove_dir_all(path),
        Ok(_) => fs::remove_file(path),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    };
    result.map_err(io(path))
}

#[cfg(test)]
mod tests;
