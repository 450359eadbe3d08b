//! Image servers over the API (`[[images.remotes]]`): the configured list, one server's
//! catalogue read from a simplestreams tree served on 127.0.0.1, 404 for an unknown name and
//! 503 naming the server when its index leaves its tree; a fetch through `POST /images`
//! (`SERVER:ALIAS`), listed in `GET /images` and deleted, and a tampered one failing the
//! operation. (The hostile archives are berth-image's tests/streams.)

use crate::{common, streams_support};

use axum::http::StatusCode;
use berth_testkit::http::StaticServer;
use common::{SimDaemon, TestResult};
use serde_json::{Value, json};

/// A simplestreams tree in `root` whose index names `products_path`; the latest version's
/// `root.tar.xz` is a tiny real rootfs (a /sbin/init script) whose hash the index declares.
fn publish(root: &std::path::Path, products_path: &str) -> TestResult {
    let init: &[u8] = b"#!/bin/sh\nexec sleep infinity\n";
    let apk: &[u8] = b"C:Q1x\nP:musl\nV:1.2.5-r0\n\nC:Q1y\nP:busybox\nV:1.36.1-r29\n";
    let tarball = streams_support::xz(&streams_support::tar(
        &[
            ("sbin/init", Some(init), 0o755),
            ("lib/apk/db/installed", Some(apk), 0o644),
        ],
        &[],
    )?)?;
    let product = streams_support::Product {
        id: "alpine:3.20:amd64:default",
        aliases: "alpine/3.20/default,alpine/3.20",
        os: "Alpine",
        release: "3.20",
        dir: "images/alpine/3.20/amd64/default",
    };
    streams_support::publish(root, products_path, &product, &tarball)
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

    // What it says about itself: where it came from, the sha256 checked, its packages.
    let (status, info) = d
        .call("GET", "/api/v1/images/local:alpine/3.20", Value::Null)
        .await?;
    assert_eq!(status, StatusCode::OK, "{info}");
    assert_eq!(info["alias"], "local:alpine/3.20");
    assert_eq!(info["arch"], "amd64");
    assert_eq!(info["version"], "20240602_13:00");
    assert_eq!(
        (&info["packages"], &info["package_manager"]),
        (&json!(2), &json!("apk"))
    );
    assert!(info["built_at"].is_string(), "{info}");
    assert!(info["size"].as_u64().unwrap_or_default() > 0, "{info}");
    let origin = info["origin"].as_str().unwrap_or_default();
    assert!(
        origin.contains("image server local") && origin.contains(&server.url),
        "{origin}"
    );
    assert_eq!(info["sha256"].as_str().map(str::len), Some(64), "{info}");
    let (status, body) = d
        .call("GET", "/api/v1/images/local:alpine/9", Value::Null)
        .await?;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");

    // An instance made from it: its own copy, configured as far as this guest allows (no
    // known init, no sshd, no network tool: the host configures eth0), and said so.
    let launch = json!({ "name": "from-server", "image": "local:alpine/3.20" });
    let (status, accepted) = d.call("POST", "/api/v1/instances", launch).await?;
    assert_eq!(status, StatusCode::ACCEPTED, "{accepted}");
    let op = d.wait_success(&accepted).await?;
    let configure = op["steps"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|s| s["name"] == "configure")
        .ok_or_else(|| format!("no configure step: {op}"))?;
    let message = configure["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("init unknown")
            && message.contains("network set from the host")
            && message.contains("not configured")
            && message.contains("no sshd"),
        "{message}"
    );
    let (status, instance) = d
        .call("GET", "/api/v1/instances/from-server", Value::Null)
        .await?;
    assert_eq!(status, StatusCode::OK, "{instance}");
    assert_eq!(instance["image"], "local:alpine/3.20");

    let path = "/api/v1/images/local:alpine/3.20";
    let (status, body) = d.call("DELETE", path, Value::Null).await?;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    assert!(!init.exists());
    let (status, body) = d.call("DELETE", path, Value::Null).await?;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    // The instance keeps its own copy.
    let (status, instance) = d
        .call("GET", "/api/v1/instances/from-server", Value::Null)
        .await?;
    assert_eq!(status, StatusCode::OK, "{instance}");
    let body = json!({ "force": true });
    let (status, accepted) = d
        .call("DELETE", "/api/v1/instances/from-server", body)
        .await?;
    assert_eq!(status, StatusCode::ACCEPTED, "{accepted}");
    d.wait_success(&accepted).await?;
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

#[tokio::test]
async fn a_refresh_fetches_stale_images_again_under_a_running_instance() -> TestResult {
    let tree = tempfile::tempdir()?;
    publish(tree.path(), "streams/v1/images.json")?;
    let server = StaticServer::start(tree.path()).await;
    let remotes = format!("[{{ name = \"local\", url = \"{}\" }}]", server.url);
    let d = SimDaemon::start_with(
        &[],
        &[
            ("BERTH_IMAGES__REMOTES", remotes),
            ("BERTH_IMAGES__REFRESH_AFTER", "1d".into()),
        ],
    )
    .await?;
    // Only the fetched image is in the cache (the stand-ins for the catalogue would be
    // rebuilt with mmdebstrap).
    let (_, images) = d.call("GET", "/api/v1/images", Value::Null).await?;
    for image in images.as_array().into_iter().flatten() {
        if image["status"] == "cached" {
            let alias = image["alias"].as_str().unwrap_or_default();
            let (status, body) = d
                .call("DELETE", &format!("/api/v1/images/{alias}"), Value::Null)
                .await?;
            assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
        }
    }
    let launch = json!({ "name": "old-image", "image": "local:alpine/3.20" });
    let (status, accepted) = d.call("POST", "/api/v1/instances", launch).await?;
    assert_eq!(status, StatusCode::ACCEPTED, "{accepted}");
    d.wait_success(&accepted).await?;
    let path = "/api/v1/images/local:alpine/3.20";
    let (_, before) = d.call("GET", path, Value::Null).await?;

    // Not stale yet: nothing happens.
    let now = chrono::Utc::now();
    assert!(d.app.refresh_images(now).await.is_empty());
    // A day and more later it is fetched again, by berthd, as an image_build operation.
    let ended = d.app.refresh_images(now + chrono::Duration::days(2)).await;
    assert_eq!(ended.len(), 1, "{ended:?}");
    assert_eq!(ended[0].target, "local:alpine/3.20");
    assert_eq!(
        ended[0].status,
        berth_types::OperationStatus::Success,
        "{ended:?}"
    );
    let (_, after) = d.call("GET", path, Value::Null).await?;
    assert_ne!(before["built_at"], after["built_at"], "{after}");
    assert_eq!(after["sha256"], before["sha256"]);

    // The instance made from the old image runs on, with its own files.
    let (status, instance) = d
        .call("GET", "/api/v1/instances/old-image", Value::Null)
        .await?;
    assert_eq!(status, StatusCode::OK, "{instance}");
    assert_eq!(instance["state"], "running", "{instance}");
    let name = berth_types::InstanceName::parse("old-image")?;
    let rootfs = d
        .app
        .store
        .get_instance(&name)?
        .and_then(|r| r.rootfs)
        .ok_or("the instance's rootfs")?;
    assert_eq!(
        std::fs::read_to_string(rootfs.join("etc/hostname"))?,
        "old-image\n"
    );
    assert!(rootfs.join("sbin/init").is_file());
    // And a new instance is made from the refreshed one.
    let launch = json!({ "name": "new-image", "image": "local:alpine/3.20" });
    let (status, accepted) = d.call("POST", "/api/v1/instances", launch).await?;
    assert_eq!(status, StatusCode::ACCEPTED, "{accepted}");
    d.wait_success(&accepted).await?;
    Ok(())
}
