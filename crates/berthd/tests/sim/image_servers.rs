//! Image servers over the API (`[[images.remotes]]`): the configured list, one server's
//! catalogue read from a simplestreams tree served on 127.0.0.1, 404 for an unknown name and
//! 503 naming the server when its index leaves its tree; a fetch through `POST /images`
//! (`SERVER:ALIAS`), listed in `GET /images` and deleted, and a tampered one failing the
//! operation. (The hostile archives are berth-image's tests/streams.)

use crate::common;

use axum::http::StatusCode;
use berth_testkit::http::StaticServer;
use common::{SimDaemon, TestResult};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// `root.tar.xz` of a tree with /sbin/init.
fn rootfs_xz() -> Result<Vec<u8>, Box<dyn std::error::Error>> {
    let mut tar = tar::Builder::new(Vec::new());
    let init = b"#!/bin/sh\nexec sleep infinity\n";
    let mut header = tar::Header::new_gnu();
    header.set_mode(0o755);
    header.set_uid(0);
    header.set_gid(0);
    header.set_mtime(1_700_000_000);
    header.set_size(init.len() as u64);
    header.set_cksum();
    tar.append_data(&mut header, "sbin/init", &init[..])?;
    let tar = tar.into_inner()?;
    let mut xz = std::process::Command::new("xz")
        .args(["-c", "-0"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()?;
    let mut stdin = xz.stdin.take().ok_or("stdin")?;
    let writer = std::thread::spawn(move || std::io::Write::write_all(&mut stdin, &tar));
    let out = xz.wait_with_output()?;
    writer.join().map_err(|_| "writer")??;
    Ok(out.stdout)
}

/// A simplestreams tree in `root` whose index names `products_path`; the latest version's
/// `root.tar.xz` is a tiny real rootfs whose hash the index declares.
fn publish(root: &std::path::Path, products_path: &str) -> TestResult {
    let version = root.join("images/alpine/3.20/amd64/default/20240602_13:00");
    std::fs::create_dir_all(&version)?;
    let tarball = rootfs_xz()?;
    std::fs::write(version.join("root.tar.xz"), &tarball)?;
    let sha: String = Sha256::digest(&tarball)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    std::fs::create_dir_all(root.join("streams/v1"))?;
    let index = json!({ "format": "index:1.0", "index": { "images": {
        "datatype": "image-downloads", "path": products_path, "format": "products:1.0",
        "products": ["alpine:3.20:amd64:default"],
    } } });
    let item = |path: &str| {
        json!({
            "ftype": "root.tar.xz", "path": path, "sha256": sha, "size": tarball.len(),
        })
    };
    let images = json!({ "content_id": "images", "datatype": "image-downloads",
        "format": "products:1.0", "products": {
        "alpine:3.20:amd64:default": {
            "aliases": "alpine/3.20/default,alpine/3.20", "arch": "amd64", "os": "Alpine",
            "release": "3.20", "variant": "default",
            "versions": {
                "20240601_13:00": { "items": {
                    "root.tar.xz": item("images/alpine/3.20/amd64/default/20240601_13:00/root.tar.xz"),
                } },
                "20240602_13:00": { "items": {
                    "root.tar.xz": item("images/alpine/3.20/amd64/default/20240602_13:00/root.tar.xz"),
                } },
            },
        },
    } });
    std::fs::write(root.join("streams/v1/index.json"), index.to_string())?;
    std::fs::write(root.join("streams/v1/images.json"), images.to_string())?;
    Ok(())
}

async fn daemon(remotes: &[(&str, &str)]) -> Result<SimDaemon, Box<dyn std::error::Error>> {
    let list: Vec<String> = remotes
        .iter()
        .map(|(name, url)| format!("{{ name = \"{name}\", url = \"{url}\" }}"))
        .collect();
    SimDaemon::start_with(
        &[],
        &[("BERTH_IMAGES__REMOTES", format!("[{}]", list.join(", ")))],
    )
    .await
}

#[tokio::test]
async fn a_servers_catalogue_lists_its_latest_versions() -> TestResult {
    let tree = tempfile::tempdir()?;
    publish(tree.path(), "streams/v1/images.json")?;
    let server = StaticServer::start(tree.path()).await;
    let d = daemon(&[("local", &server.url)]).await?;

    let (status, remotes) = d.call("GET", "/api/v1/images/remotes", Value::Null).await?;
    assert_eq!(status, StatusCode::OK, "{remotes}");
    assert_eq!(remotes, json!([{ "name": "local", "url": server.url }]));

    let (status, list) = d
        .call("GET", "/api/v1/images/remotes/local", Value::Null)
        .await?;
    assert_eq!(status, StatusCode::OK, "{list}");
    let list = list.as_array().ok_or("an array")?;
    assert_eq!(list.len(), 1, "{list:?}");
    let alpine = &list[0];
    assert_eq!(alpine["alias"], "alpine/3.20/default");
    assert_eq!(
        alpine["aliases"],
        json!(["alpine/3.20/default", "alpine/3.20"])
    );
    assert_eq!(alpine["arch"], "amd64");
    assert_eq!(alpine["version"], "20240602_13:00");
    assert_eq!(alpine["ftype"], "root.tar.xz");
    assert!(alpine["size"].as_u64().unwrap_or_default() > 0, "{alpine}");
    assert!(alpine.get("fetched_at").is_none(), "{alpine}");

    let (status, body) = d
        .call("GET", "/api/v1/images/remotes/nope", Value::Null)
        .await?;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("images.remotes")
    );
    Ok(())
}

#[tokio::test]
async fn an_index_leaving_the_server_is_refused() -> TestResult {
    let tree = tempfile::tempdir()?;
    publish(tree.path(), "../../etc/images.json")?;
    let server = StaticServer::start(tree.path()).await;
    let d = daemon(&[("evil", &server.url)]).await?;
    let (status, body) = d
        .call("GET", "/api/v1/images/remotes/evil", Value::Null)
        .await?;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("image server evil") && message.contains("leaves"),
        "{message}"
    );
    Ok(())
}

#[tokio::test]
async fn bad_remotes_stop_the_daemon_naming_the_entry() -> TestResult {
    let Err(err) = daemon(&[("Bad Name", "http://127.0.0.1:1")]).await else {
        return Err("a bad remote name was accepted".into());
    };
    assert!(err.to_string().contains("images.remotes[0]"), "{err}");
    Ok(())
}

#[tokio::test]
async fn a_fetch_caches_lists_and_deletes_the_image() -> TestResult {
    let tree = tempfile::tempdir()?;
    publish(tree.path(), "streams/v1/images.json")?;
    let server = StaticServer::start(tree.path()).await;
    let d = daemon(&[("local", &server.url)]).await?;

    let body = json!({ "image": "local:alpine/3.20" });
    let (status, accepted) = d.call("POST", "/api/v1/images", body).await?;
    assert_eq!(status, StatusCode::ACCEPTED, "{accepted}");
    assert_eq!(accepted["operation"]["target"], "local:alpine/3.20");
    d.wait_success(&accepted).await?;
    let init = d
        .data_dir()
        .join("images/streams/local/alpine_3.20-amd64/rootfs/sbin/init");
    assert!(init.is_file(), "{}", init.display());

    let (_, images) = d.call("GET", "/api/v1/images", Value::Null).await?;
    let fetched = images
        .as_array()
        .ok_or("an array")?
        .iter()
        .find(|i| i["alias"] == "local:alpine/3.20")
        .ok_or_else(|| format!("not listed: {images}"))?;
    assert_eq!(fetched["status"], "fetched");
    assert_eq!(fetched["sources"], json!([server.url]));

    let launch = json!({ "name": "from-server", "image": "local:alpine/3.20" });
    let (status, body) = d.call("POST", "/api/v1/instances", launch).await?;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"]["field"], "image");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("not"),
        "{body}"
    );

    let path = "/api/v1/images/local:alpine/3.20";
    let (status, body) = d.call("DELETE", path, Value::Null).await?;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    assert!(!init.exists());
    let (status, body) = d.call("DELETE", path, Value::Null).await?;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    Ok(())
}

#[tokio::test]
async fn a_tampered_download_fails_the_fetch_and_caches_nothing() -> TestResult {
    let tree = tempfile::tempdir()?;
    publish(tree.path(), "streams/v1/images.json")?;
    let tarball = tree
        .path()
        .join("images/alpine/3.20/amd64/default/20240602_13:00/root.tar.xz");
    let mut bytes = std::fs::read(&tarball)?;
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    std::fs::write(&tarball, bytes)?;
    let server = StaticServer::start(tree.path()).await;
    let d = daemon(&[("local", &server.url)]).await?;
    let body = json!({ "image": "local:alpine/3.20/default" });
    let (status, accepted) = d.call("POST", "/api/v1/images", body).await?;
    assert_eq!(status, StatusCode::ACCEPTED, "{accepted}");
    let op = d.wait(&accepted).await?;
    assert_eq!(op["status"], "failure", "{op}");
    assert!(op.to_string().contains("sha256"), "{op}");
    let dir = d.data_dir().join("images/streams/local");
    let left: Vec<_> = std::fs::read_dir(&dir)?
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| !n.ends_with(".lock"))
        .collect();
    assert!(left.is_empty(), "{left:?}");

    let bad = json!({ "image": "local:../x" });
    let (status, body) = d.call("POST", "/api/v1/images", bad).await?;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"]["field"], "image");
    Ok(())
}
