//! An image server's tree for the tests, in the real simplestreams format (as
//! `images.linuxcontainers.org` publishes it): `streams/v1/index.json` naming the product file,
//! the product file with two versions of one product, and the latest version's `root.tar.xz`
//! whose size and sha256 the index declares. Served with `berth_testkit::http::StaticServer`.

#![allow(dead_code, reason = "each test binary uses a different part")]

use std::io::Write;
use std::path::Path;

use serde_json::json;
use sha2::{Digest, Sha256};

pub type Error = Box<dyn std::error::Error>;

/// `xz -c` of `bytes`.
pub fn xz(bytes: &[u8]) -> Result<Vec<u8>, Error> {
    let mut child = std::process::Command::new("xz")
        .args(["-c", "-0"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()?;
    let mut stdin = child.stdin.take().ok_or("xz stdin")?;
    let input = bytes.to_vec();
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let out = child.wait_with_output()?;
    writer.join().map_err(|_| "xz writer")??;
    if !out.status.success() {
        return Err(format!("xz failed: {}", out.status).into());
    }
    Ok(out.stdout)
}

/// One product an image server offers.
pub struct Product<'a> {
    /// `alpine:3.20:amd64:default`.
    pub id: &'a str,
    /// `alpine/3.20/default,alpine/3.20`.
    pub aliases: &'a str,
    pub os: &'a str,
    pub release: &'a str,
    /// The path of the tree's directory for it, `images/alpine/3.20/amd64/default`.
    pub dir: &'a str,
}

/// Publishes `product` under `root` with `tarball` (a `root.tar.xz`) as its latest version
/// `20240602_13:00` (an older `20240601_13:00` is listed too); the index names
/// `products_path` as its product file.
pub fn publish(
    root: &Path,
    products_path: &str,
    product: &Product,
    tarball: &[u8],
) -> Result<(), Error> {
    let latest = format!("{}/20240602_13:00", product.dir);
    std::fs::create_dir_all(root.join(&latest))?;
    std::fs::write(root.join(&latest).join("root.tar.xz"), tarball)?;
    let sha: String = Sha256::digest(tarball)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    std::fs::create_dir_all(root.join("streams/v1"))?;
    let index = json!({ "format": "index:1.0", "index": { "images": {
        "datatype": "image-downloads", "path": products_path, "format": "products:1.0",
        "products": [product.id],
    } } });
    let item = |version: &str| {
        json!({
            "ftype": "root.tar.xz",
            "path": format!("{}/{version}/root.tar.xz", product.dir),
            "sha256": sha,
            "size": tarball.len(),
        })
    };
    let arch = product.id.split(':').nth(2).unwrap_or("amd64");
    let images = json!({ "content_id": "images", "datatype": "image-downloads",
        "format": "products:1.0", "products": {
        product.id: {
            "aliases": product.aliases, "arch": arch, "os": product.os,
            "release": product.release, "variant": "default",
            "versions": {
                "20240601_13:00": { "items": { "root.tar.xz": item("20240601_13:00") } },
                "20240602_13:00": { "items": { "root.tar.xz": item("20240602_13:00") } },
            },
        },
    } });
    std::fs::write(root.join("streams/v1/index.json"), index.to_string())?;
    std::fs::write(root.join("streams/v1/images.json"), images.to_string())?;
    Ok(())
}

/// A tar of a tree: `(path, Some(bytes), mode)` for a file, `(path, None, mode)` for a
/// directory; `links` are `(path, target)` symlinks.
pub fn tar(files: &[(&str, Option<&[u8]>, u32)], links: &[(&str, &str)]) -> Result<Vec<u8>, Error> {
    let mut tar = tar::Builder::new(Vec::new());
    for (path, data, mode) in files {
        let mut header = tar::Header::new_gnu();
        header.set_mode(*mode);
        header.set_uid(0);
        header.set_gid(0);
        header.set_mtime(1_700_000_000);
        match data {
            Some(data) => {
                header.set_entry_type(tar::EntryType::Regular);
                header.set_size(data.len() as u64);
                header.set_cksum();
                tar.append_data(&mut header, path, *data)?;
            }
            None => {
                header.set_entry_type(tar::EntryType::Directory);
                header.set_size(0);
                header.set_cksum();
                tar.append_data(&mut header, path, &[][..])?;
            }
        }
    }
    for (path, target) in links {
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(tar::EntryType::Symlink);
        header.set_mode(0o777);
        header.set_uid(0);
        header.set_gid(0);
        header.set_mtime(1_700_000_000);
        header.set_size(0);
        tar.append_link(&mut header, path, target)?;
    }
    Ok(tar.into_inner()?)
}
