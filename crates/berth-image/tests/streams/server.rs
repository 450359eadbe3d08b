//! A simplestreams server on 127.0.0.1 for the tests: it serves fixed files from memory,
//! answers 404 for the rest, and records every path asked for. Plus the fixtures: rootfs
//! tarballs (some hostile) and real-format index.json / images.json documents.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use serde_json::json;
use sha2::{Digest, Sha256};

/// A running server; its thread ends with the test process.
pub struct Server {
    pub url: String,
    files: Arc<Mutex<BTreeMap<String, Vec<u8>>>>,
    hits: Arc<Mutex<Vec<String>>>,
}

impl Server {
    pub fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let files: Arc<Mutex<BTreeMap<String, Vec<u8>>>> = Arc::default();
        let hits: Arc<Mutex<Vec<String>>> = Arc::default();
        let (f, h) = (files.clone(), hits.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let mut reader = BufReader::new(stream.try_clone().expect("clone"));
                let mut line = String::new();
                if reader.read_line(&mut line).is_err() {
                    continue;
                }
                let path = line.split(' ').nth(1).unwrap_or("/").to_owned();
                loop {
                    let mut header = String::new();
                    match reader.read_line(&mut header) {
                        Ok(0) | Err(_) => break,
                        Ok(_) if header == "\r\n" => break,
                        Ok(_) => {}
                    }
                }
                h.lock().expect("hits").push(path.clone());
                let body = f.lock().expect("files").get(&path).cloned();
                let (status, body) = match body {
                    Some(body) => ("200 OK", body),
                    None => ("404 Not Found", b"not found".to_vec()),
                };
                let head = format!(
                    "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = stream.write_all(head.as_bytes());
                let _ = stream.write_all(&body);
            }
        });
        Self { url, files, hits }
    }

    pub fn put(&self, path: &str, body: Vec<u8>) {
        self.files
            .lock()
            .expect("files")
            .insert(path.to_owned(), body);
    }

    /// Paths asked for so far.
    pub fn hits(&self) -> Vec<String> {
        self.hits.lock().expect("hits").clone()
    }
}

pub fn sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// One entry of a fixture tarball.
pub enum Entry<'a> {
    Dir(&'a str),
    File(&'a str, &'a [u8], u32),
    Symlink(&'a str, &'a str),
    /// A character device (path, major, minor).
    Char(&'a str, u32, u32),
}

/// A tar of `entries`; names are written raw, so `..` and absolute paths go in as given.
pub fn tarball(entries: &[Entry]) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    for entry in entries {
        let mut header = tar::Header::new_gnu();
        header.set_uid(0);
        header.set_gid(0);
        header.set_mtime(1_700_000_000);
        let (name, data): (&str, &[u8]) = match entry {
            Entry::Dir(name) => {
                header.set_entry_type(tar::EntryType::Directory);
                header.set_mode(0o755);
                (name, b"")
            }
            Entry::File(name, data, mode) => {
                header.set_entry_type(tar::EntryType::Regular);
                header.set_mode(*mode);
                (name, data)
            }
            Entry::Symlink(name, target) => {
                header.set_entry_type(tar::EntryType::Symlink);
                header.set_mode(0o777);
                header.set_link_name(target).expect("link name");
                (name, b"")
            }
            Entry::Char(name, major, minor) => {
                header.set_entry_type(tar::EntryType::Char);
                header.set_mode(0o666);
                header.set_device_major(*major).expect("major");
                header.set_device_minor(*minor).expect("minor");
                (name, b"")
            }
        };
        let raw = &mut header.as_old_mut().name;
        raw[..name.len()].copy_from_slice(name.as_bytes());
        header.set_size(data.len() as u64);
        header.set_cksum();
        builder.append(&header, data).expect("append");
    }
    builder.into_inner().expect("tar")
}

/// `xz -c` of `bytes`.
pub fn xz(bytes: &[u8]) -> Vec<u8> {
    let mut child = std::process::Command::new("xz")
        .args(["-c", "-0"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("xz");
    let mut stdin = child.stdin.take().expect("stdin");
    let input = bytes.to_vec();
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let out = child.wait_with_output().expect("xz output");
    writer.join().expect("writer").expect("write");
    assert!(out.status.success());
    out.stdout
}

pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(bytes).expect("gzip");
    encoder.finish().expect("gzip")
}

/// A small Alpine-like rootfs: /sbin/init a shell script, /bin/sh an absolute symlink, /dev
/// with a standard node.
pub fn rootfs_tar() -> Vec<u8> {
    tarball(&[
        Entry::Dir("./"),
        Entry::Dir("./bin"),
        Entry::Dir("./sbin"),
        Entry::Dir("./etc"),
        Entry::Dir("./dev"),
        Entry::File("./bin/busybox", b"#!/bin/true\n", 0o755),
        Entry::Symlink("./bin/sh", "/bin/busybox"),
        Entry::File("./sbin/init", b"#!/bin/sh\nexec sleep infinity\n", 0o755),
        Entry::File("./etc/os-release", b"ID=alpine\nVERSION_ID=3.20.3\n", 0o644),
        Entry::Char("./dev/null", 1, 3),
    ])
}

/// An item of images.json for `body` at `path`.
pub fn item(ftype: &str, path: &str, body: &[u8]) -> serde_json::Value {
    json!({ "ftype": ftype, "path": path, "sha256": sha256(body), "size": body.len() })
}

/// index.json naming `products_path` with `products`.
pub fn index(products_path: &str, products: &[&str]) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "format": "index:1.0",
        "index": {
            "images": {
                "datatype": "image-downloads",
                "path": products_path,
                "format": "products:1.0",
                "products": products,
            }
        }
    }))
    .expect("json")
}

/// images.json with one product per `(id, aliases, arch, versions)`; each version is a map of
/// item name to item.
pub fn images(products: &[(&str, &str, &str, serde_json::Value)]) -> Vec<u8> {
    let mut all = serde_json::Map::new();
    for (id, aliases, arch, versions) in products {
        let mut parts = id.split(':');
        let os = parts.next().unwrap_or_default();
        let release = parts.next().unwrap_or_default();
        all.insert(
            (*id).to_owned(),
            json!({
                "aliases": aliases,
                "arch": arch,
                "os": format!("{}{}", os[..1].to_uppercase(), &os[1..]),
                "release": release,
                "release_title": release,
                "variant": "default",
                "requirements": {},
                "versions": versions,
            }),
        );
    }
    serde_json::to_vec(&json!({
        "content_id": "images",
        "datatype": "image-downloads",
        "format": "products:1.0",
        "products": all,
    }))
    .expect("json")
}
