//! Image servers over the API (`[[images.remotes]]`): the configured list, one server's
//! catalogue read from a simplestreams tree served on 127.0.0.1, 404 for an unknown name and
//! 503 naming the server when its index leaves its tree. (Fetching, verifying and unpacking
//! are berth-image's tests/streams.)

use crate::common;

use axum::http::StatusCode;
use berth_testkit::http::StaticServer;
use common::{SimDaemon, TestResult};
use serde_json::{Value, json};

/// A simplestreams tree in `root` whose index names `products_path`.
fn publish(root: &std::path::Path, products_path: &str) -> TestResult {
    std::fs::create_dir_all(root.join("streams/v1"))?;
    let index = json!({ "format": "index:1.0", "index": { "images": {
        "datatype": "image-downloads", "path": products_path, "format": "products:1.0",
        "products": ["alpine:3.20:amd64:default"],
    } } });
    let item = |path: &str| {
        json!({
            "ftype": "root.tar.xz", "path": path, "sha256": "ab".repeat(32), "size": 1234,
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
    assert_eq!(alpine["size"], 1234);
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
