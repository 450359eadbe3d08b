//! Image servers (simplestreams) against a server on 127.0.0.1 serving real-format documents:
//! the catalogue, a fetch that verifies and caches (a second one asks nothing), and tampering
//! refused with nothing cached — a changed tarball, index paths out of the server's tree, an
//! archive escaping its root, downloads longer or shorter than declared.

mod server;

use std::path::Path;

use berth_image::streams::{self, Remote, StreamsError, UnpackLimits};
use berth_types::Arch;
use serde_json::json;
use server::{Entry, Server, gzip, images, index, item, rootfs_tar, tarball, xz};

const DIR: &str = "images/alpine/3.20/amd64/default";

fn remote(server: &Server) -> Remote {
    Remote {
        name: "lxc".into(),
        url: format!("{}/", server.url),
    }
}

/// A server with alpine/3.20 on amd64 (two versions, the latest with `root`) and arm64.
fn serve(root: &[u8]) -> Server {
    let server = Server::start();
    let new = format!("{DIR}/20240602_13:00/root.tar.xz");
    let old = format!("{DIR}/20240601_13:00/root.tar.xz");
    let stale = xz(&tarball(&[Entry::File("./old", b"old", 0o644)]));
    server.put(&format!("/{new}"), root.to_vec());
    server.put(&format!("/{old}"), stale.clone());
    publish(
        &server,
        "streams/v1/images.json",
        json!({
            "20240601_13:00": { "items": { "root.tar.xz": item("root.tar.xz", &old, &stale) } },
            "20240602_13:00": { "items": {
                "lxd.tar.xz": item("lxd.tar.xz", &format!("{DIR}/20240602_13:00/lxd.tar.xz"), b"meta"),
                "root.tar.xz": item("root.tar.xz", &new, root),
            } },
        }),
    );
    server
}

/// Publishes index.json naming `products_path`, and images.json there with alpine on amd64
/// (`versions`) and on arm64.
fn publish(server: &Server, products_path: &str, versions: serde_json::Value) {
    let arm = json!({ "20240602_13:00": { "items": {
        "root.tar.xz": item("root.tar.xz", "images/alpine/3.20/arm64/default/20240602_13:00/root.tar.xz", b"arm"),
    } } });
    server.put(
        "/streams/v1/index.json",
        index(products_path, &["alpine:3.20:amd64:default"]),
    );
    server.put(
        "/streams/v1/images.json",
        images(&[
            (
                "alpine:3.20:amd64:default",
                "alpine/3.20/default,alpine/3.20",
                "amd64",
                versions,
            ),
            (
                "alpine:3.20:arm64:default",
                "alpine/3.20/default,alpine/3.20",
                "arm64",
                arm,
            ),
        ]),
    );
}

async fn fetch(cache: &Path, server: &Server) -> Result<streams::FetchedImage, StreamsError> {
    streams::fetch(
        cache,
        &remote(server),
        "alpine/3.20",
        Arch::Amd64,
        UnpackLimits::default(),
        |_, _| {},
    )
    .await
}

/// Nothing of a refused fetch stays: no image, no build directory.
fn assert_nothing_cached(cache: &Path) {
    let dir = cache.join("streams/lxc");
    let left: Vec<String> = std::fs::read_dir(&dir)
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| !n.ends_with(".lock"))
                .collect()
        })
        .unwrap_or_default();
    assert!(left.is_empty(), "left in the cache: {left:?}");
    assert!(streams::find_fetched(cache, "lxc", "alpine/3.20", Arch::Amd64).is_none());
}

#[tokio::test]
async fn the_catalogue_lists_the_latest_version_per_architecture() {
    let server = serve(&xz(&rootfs_tar()));
    let list = streams::catalogue(&remote(&server))
        .await
        .expect("catalogue");
    assert_eq!(list.len(), 2, "{list:?}");
    let amd = list.iter().find(|i| i.arch == Arch::Amd64).expect("amd64");
    assert_eq!(amd.aliases, ["alpine/3.20/default", "alpine/3.20"]);
    assert_eq!(amd.version, "20240602_13:00");
    assert_eq!(amd.rootfs.ftype, "root.tar.xz");
    assert_eq!((amd.os.as_str(), amd.release.as_str()), ("Alpine", "3.20"));
}

#[tokio::test]
async fn a_fetch_verifies_unpacks_and_caches_and_a_second_asks_nothing() {
    let cache = tempfile::tempdir().expect("tempdir");
    let server = serve(&xz(&rootfs_tar()));
    let image = fetch(cache.path(), &server).await.expect("fetch");
    let init = std::fs::read_to_string(image.rootfs.join("sbin/init")).expect("init");
    assert!(init.starts_with("#!/bin/sh"));
    let link = std::fs::read_link(image.rootfs.join("bin/sh")).expect("symlink kept");
    assert_eq!(link, Path::new("/bin/busybox"));
    assert!(
        !image.rootfs.join("old").exists(),
        "the latest version is used"
    );
    assert_eq!(image.meta.version, "20240602_13:00");
    assert!(
        std::fs::read_dir(&image.dir).expect("dir").all(|e| !e
            .expect("entry")
            .file_name()
            .to_string_lossy()
            .starts_with("download")),
        "the download is removed once unpacked"
    );
    let asked = server.hits().len();
    assert!(
        server
            .hits()
            .iter()
            .any(|p| p.ends_with("20240602_13:00/root.tar.xz"))
    );

    let again = fetch(cache.path(), &server).await.expect("cached");
    assert_eq!(again, image);
    assert_eq!(
        server.hits().len(),
        asked,
        "the second fetch asked the server"
    );

    assert_eq!(
        streams::list_fetched(cache.path()),
        std::slice::from_ref(&image)
    );
    let deleted = streams::delete_fetched(cache.path(), "lxc", "alpine/3.20", Arch::Amd64);
    assert!(deleted.expect("delete"));
    assert!(!image.dir.exists());
    assert!(streams::list_fetched(cache.path()).is_empty());
}

#[tokio::test]
async fn interrupted_fetches_are_swept() {
    let cache = tempfile::tempdir().expect("tempdir");
    let partial = cache
        .path()
        .join("streams/lxc/.build-alpine_3.20-amd64-0123456789abcdef0123456789abcdef");
    std::fs::create_dir_all(partial.join("rootfs/etc")).expect("partial");
    streams::remove_partial_fetches(cache.path()).expect("sweep");
    assert!(!partial.exists());
}

#[tokio::test]
async fn a_combined_tarball_gives_only_its_rootfs() {
    let cache = tempfile::tempdir().expect("tempdir");
    let server = serve(b"unused");
    let combined = gzip(&tarball(&[
        Entry::File("metadata.yaml", b"architecture: x86_64\n", 0o644),
        Entry::Dir("rootfs/"),
        Entry::Dir("rootfs/sbin"),
        Entry::File("rootfs/sbin/init", b"#!/bin/sh\n", 0o755),
        Entry::Dir("templates/"),
    ]));
    let path = format!("{DIR}/20240603_13:00/incus_combined.tar.gz");
    server.put(&format!("/{path}"), combined.clone());
    publish(
        &server,
        "streams/v1/images.json",
        json!({ "20240603_13:00": { "items": {
            "incus_combined.tar.gz": item("incus_combined.tar.gz", &path, &combined),
        } } }),
    );
    let image = fetch(cache.path(), &server).await.expect("fetch");
    assert!(image.rootfs.join("sbin/init").is_file());
    assert!(!image.rootfs.join("metadata.yaml").exists());
    assert!(!image.rootfs.join("rootfs").exists());
}

#[tokio::test]
async fn a_changed_tarball_is_refused_before_unpacking() {
    let cache = tempfile::tempdir().expect("tempdir");
    let good = xz(&rootfs_tar());
    let server = serve(&good);
    // Same size, other bytes: only the hash tells.
    let mut evil = good.clone();
    let last = evil.len() - 1;
    evil[last] ^= 0xff;
    server.put(&format!("/{DIR}/20240602_13:00/root.tar.xz"), evil);
    let err = fetch(cache.path(), &server).await.expect_err("tampered");
    assert!(matches!(err, StreamsError::Checksum { .. }), "{err}");
    assert_nothing_cached(cache.path());
}

#[tokio::test]
async fn downloads_longer_or_shorter_than_declared_are_refused() {
    let cache = tempfile::tempdir().expect("tempdir");
    let good = xz(&rootfs_tar());
    let server = serve(&good);
    let at = format!("/{DIR}/20240602_13:00/root.tar.xz");
    let mut longer = good.clone();
    longer.extend_from_slice(&[0; 4096]);
    server.put(&at, longer);
    let err = fetch(cache.path(), &server).await.expect_err("longer");
    assert!(matches!(err, StreamsError::TooBig { .. }), "{err}");
    assert_nothing_cached(cache.path());

    server.put(&at, good[..good.len() / 2].to_vec());
    let err = fetch(cache.path(), &server).await.expect_err("shorter");
    assert!(matches!(err, StreamsError::Size { .. }), "{err}");
    assert_nothing_cached(cache.path());
}

#[tokio::test]
async fn index_paths_out_of_the_server_are_refused() {
    let root = xz(&rootfs_tar());
    for products_path in ["../../etc/images.json", "/streams/v1/images.json"] {
        let cache = tempfile::tempdir().expect("tempdir");
        let server = serve(&root);
        publish(&server, products_path, json!({}));
        let err = fetch(cache.path(), &server).await.expect_err(products_path);
        assert!(matches!(err, StreamsError::UnsafePath { .. }), "{err}");
        assert_nothing_cached(cache.path());
    }
    for item_path in [
        "images/../../../etc/shadow",
        "/etc/shadow",
        "http://elsewhere.example/root.tar.xz",
    ] {
        let cache = tempfile::tempdir().expect("tempdir");
        let server = serve(&root);
        publish(
            &server,
            "streams/v1/images.json",
            json!({ "20240609_13:00": { "items": {
                "root.tar.xz": item("root.tar.xz", item_path, &root),
            } } }),
        );
        let err = fetch(cache.path(), &server).await.expect_err(item_path);
        assert!(matches!(err, StreamsError::UnsafePath { .. }), "{err}");
        assert_nothing_cached(cache.path());
        assert!(
            server.hits().iter().all(|p| !p.contains("shadow")),
            "the bad path was never asked for"
        );
    }
}

#[tokio::test]
async fn archives_escaping_their_root_are_refused() {
    let hostile: [(&str, &str, Vec<u8>); 3] = [
        (
            "a symlink to walk through",
            "symbolic links",
            tarball(&[
                Entry::Symlink("./escape", "../../../../.."),
                Entry::File("./escape/tmp/berth-streams-pwned", b"x", 0o644),
            ]),
        ),
        (
            "a .. entry",
            "`..`",
            tarball(&[Entry::File("./../berth-streams-pwned", b"x", 0o644)]),
        ),
        (
            "an absolute entry",
            "absolute",
            tarball(&[Entry::File("/tmp/berth-streams-pwned", b"x", 0o644)]),
        ),
    ];
    for (what, why, tar) in hostile {
        let cache = tempfile::tempdir().expect("tempdir");
        let server = serve(&xz(&tar));
        let err = fetch(cache.path(), &server).await.expect_err(what);
        assert!(matches!(err, StreamsError::Entry { .. }), "{what}: {err}");
        assert!(err.to_string().contains(why), "{what}: {err}");
        assert_nothing_cached(cache.path());
        assert!(!Path::new("/tmp/berth-streams-pwned").exists(), "{what}");
        assert!(
            !cache.path().join("streams/berth-streams-pwned").exists(),
            "{what}"
        );
    }
}

#[tokio::test]
async fn only_standard_device_nodes_are_kept() {
    let cache = tempfile::tempdir().expect("tempdir");
    let tar = tarball(&[
        Entry::Dir("./dev"),
        Entry::Char("./dev/null", 1, 3),
        Entry::Char("./dev/mem", 1, 1),
        Entry::Char("./etc/null", 1, 3),
        Entry::File("./sbin/init", b"#!/bin/sh\n", 0o755),
    ]);
    let server = serve(&xz(&tar));
    let image = fetch(cache.path(), &server).await.expect("fetch");
    assert!(image.rootfs.join("dev/null").exists());
    assert!(!image.rootfs.join("dev/mem").exists());
    assert!(!image.rootfs.join("etc/null").exists());
}

#[tokio::test]
async fn unknown_aliases_name_what_the_server_has() {
    let cache = tempfile::tempdir().expect("tempdir");
    let server = serve(&xz(&rootfs_tar()));
    let err = streams::fetch(
        cache.path(),
        &remote(&server),
        "alpine/9.99",
        Arch::Amd64,
        UnpackLimits::default(),
        |_, _| {},
    )
    .await
    .expect_err("unknown");
    assert!(err.to_string().contains("alpine/3.20/default"), "{err}");
    let err = streams::fetch(
        cache.path(),
        &remote(&server),
        "../x",
        Arch::Amd64,
        UnpackLimits::default(),
        |_, _| {},
    )
    .await
    .expect_err("bad alias");
    assert!(matches!(err, StreamsError::BadAlias { .. }), "{err}");
}
