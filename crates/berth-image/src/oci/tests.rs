use super::*;

fn header() -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(0);
    h
}

/// A tar with `files` (path, content) and `links` (path, target).
fn layer(files: &[(&str, &[u8])], links: &[(&str, &str)]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (path, data) in files {
        let mut h = header();
        h.set_size(data.len() as u64);
        h.set_mode(0o755);
        h.set_cksum();
        b.append_data(&mut h, path, *data).expect("append");
    }
    for (path, target) in links {
        let mut h = header();
        h.set_entry_type(tar::EntryType::Symlink);
        h.set_size(0);
        h.set_cksum();
        b.append_link(&mut h, path, target).expect("link");
    }
    b.into_inner().expect("tar")
}

fn sha(data: &[u8]) -> String {
    Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn put_blob(dir: &Path, data: &[u8]) -> String {
    let hex = sha(data);
    fs::create_dir_all(dir.join("blobs/sha256")).expect("blobs");
    fs::write(dir.join("blobs/sha256").join(&hex), data).expect("blob");
    format!("sha256:{hex}")
}

const CONFIG: &str = r#"{"architecture":"amd64","os":"linux","config":{"Entrypoint":["/bin/echo"],"Cmd":["hello"],"Env":["PATH=/bin","GREETING=hi"],"WorkingDir":"/srv"}}"#;

/// An OCI layout with two layers, the second removing `etc/gone`.
fn oci_layout_dir(dir: &Path) {
    let l1 = layer(
        &[("bin/echo", b"#!x"), ("etc/gone", b"x"), ("etc/kept", b"y")],
        &[],
    );
    let l2 = layer(&[("etc/.wh.gone", b""), ("srv/data", b"z")], &[]);
    let (d1, d2) = (put_blob(dir, &l1), put_blob(dir, &l2));
    let config = put_blob(dir, CONFIG.as_bytes());
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config},
        "layers": [
            {"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": d1},
            {"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": d2},
        ],
    });
    let m = put_blob(dir, manifest.to_string().as_bytes());
    let index = serde_json::json!({"schemaVersion": 2, "manifests": [
        {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": m}]});
    fs::write(dir.join("index.json"), index.to_string()).expect("index");
    fs::write(dir.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).expect("layout");
}

fn tar_dir(dir: &Path, out: &Path) {
    let mut b = tar::Builder::new(File::create(out).expect("create"));
    b.append_dir_all(".", dir).expect("tar dir");
    b.finish().expect("finish");
}

#[test]
fn oci_archive_unpacks_layers_with_whiteouts_and_config() {
    let t = tempfile::tempdir().expect("tmp");
    let (layout, rootfs, scratch) = (t.path().join("l"), t.path().join("r"), t.path().join("s"));
    for d in [&layout, &rootfs, &scratch] {
        fs::create_dir_all(d).expect("dir");
    }
    oci_layout_dir(&layout);
    let archive = t.path().join("image.tar");
    tar_dir(&layout, &archive);
    let config = import(&archive, &rootfs, &scratch).expect("import");
    assert_eq!(config.entrypoint, ["/bin/echo"]);
    assert_eq!(config.argv(&[]), ["/bin/echo", "hello"]);
    assert_eq!(config.argv(&["bye".into()]), ["/bin/echo", "bye"]);
    assert_eq!(config.working_dir.as_deref(), Some("/srv"));
    assert!(config.env.contains(&"GREETING=hi".to_owned()));
    assert!(rootfs.join("bin/echo").is_file());
    assert!(rootfs.join("etc/kept").is_file());
    assert!(!rootfs.join("etc/gone").exists(), "the whiteout removed it");
    assert!(rootfs.join("srv/data").is_file());
}

#[test]
fn a_tampered_blob_is_refused() {
    let t = tempfile::tempdir().expect("tmp");
    let (layout, rootfs) = (t.path().join("l"), t.path().join("r"));
    fs::create_dir_all(&layout).expect("dir");
    fs::create_dir_all(&rootfs).expect("dir");
    oci_layout_dir(&layout);
    let blobs = layout.join("blobs/sha256");
    let config = sha(CONFIG.as_bytes());
    fs::write(blobs.join(config), CONFIG.replace("hello", "HELLO")).expect("tamper");
    let err = import(&layout, &rootfs, t.path()).expect_err("tampered");
    assert!(matches!(err, OciError::Digest(_)), "{err}");
}

#[test]
fn docker_save_archive_imports_and_symlinks_cannot_escape() {
    let t = tempfile::tempdir().expect("tmp");
    let (dir, rootfs, scratch) = (t.path().join("d"), t.path().join("r"), t.path().join("s"));
    for d in [&dir, &rootfs, &scratch] {
        fs::create_dir_all(d).expect("dir");
    }
    fs::write(dir.join("cfg.json"), CONFIG).expect("config");
    fs::create_dir_all(dir.join("l1")).expect("l1");
    fs::write(
        dir.join("l1/layer.tar"),
        layer(&[("bin/echo", b"#!x")], &[]),
    )
    .expect("layer");
    let manifest = r#"[{"Config":"cfg.json","RepoTags":["t:1"],"Layers":["l1/layer.tar"]}]"#;
    fs::write(dir.join("manifest.json"), manifest).expect("manifest");
    let archive = t.path().join("docker.tar");
    tar_dir(&dir, &archive);
    let config = import(&archive, &rootfs, &scratch).expect("import");
    assert_eq!(config.cmd, ["hello"]);
    assert!(rootfs.join("bin/echo").is_file());

    // A layer that plants a symlink to the host and writes through it.
    let outside = t.path().join("outside");
    fs::create_dir_all(&outside).expect("outside");
    let evil = t.path().join("evil.tar");
    let mut b = tar::Builder::new(Vec::new());
    let mut h = header();
    h.set_entry_type(tar::EntryType::Symlink);
    h.set_size(0);
    h.set_cksum();
    b.append_link(&mut h, "esc", &outside).expect("link");
    let mut h = header();
    h.set_size(1);
    h.set_mode(0o644);
    h.set_cksum();
    b.append_data(&mut h, "esc/pwned", &b"x"[..]).expect("file");
    fs::write(&evil, b.into_inner().expect("tar")).expect("write");
    assert!(apply_layer(&evil, &rootfs).is_err());
    assert!(!outside.join("pwned").exists(), "wrote through a symlink");
}
