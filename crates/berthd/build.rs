//! Embeds the web UI: every file under `web/dist` (built by `npm run build` in `web/`, which
//! scripts/setup.sh and scripts/test.sh run) becomes a static byte slice in the binary, so one
//! berthd serves its own UI and nothing is fetched at run time. Without a build, a one-page
//! placeholder says how to make one.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap_or_default());
    let dist = manifest.join("../../web/dist");
    println!("cargo:rerun-if-changed={}", dist.display());
    let mut files = Vec::new();
    collect(&dist, &dist, &mut files);
    files.sort();
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap_or_default());
    let mut code = String::from("/// (path below `web/dist`, bytes) of every embedded UI file.\n");
    code.push_str("pub static ASSETS: &[(&str, &[u8])] = &[\n");
    let has_index = files.iter().any(|(rel, _)| rel == "index.html");
    for (rel, abs) in &files {
        println!("cargo:rerun-if-changed={}", abs.display());
        let _ = writeln!(
            code,
            "    ({rel:?}, include_bytes!({:?})),",
            abs.display().to_string()
        );
    }
    if !has_index {
        let placeholder = out.join("placeholder.html");
        let _ = std::fs::write(
            &placeholder,
            "<!doctype html><html lang=\"en\"><meta charset=\"utf-8\"><title>Berth</title>\
             <body style=\"background:#111;color:#eee;font-family:sans-serif\"><div id=\"app\">\
             <h1>Berth</h1><p>The web UI was not built into this berthd: run \
             <code>npm ci &amp;&amp; npm run build</code> in <code>web/</code> (scripts/setup.sh \
             does), then rebuild berthd. The API is at <code>/api/v1</code>.</p></div></body></html>",
        );
        let _ = writeln!(
            code,
            "    (\"index.html\", include_bytes!({:?})),",
            placeholder.display().to_string()
        );
    }
    code.push_str("];\n");
    let _ = std::fs::write(out.join("web_assets.rs"), code);
}

fn collect(root: &Path, dir: &Path, files: &mut Vec<(String, PathBuf)>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect(root, &path, files);
        } else if let Ok(rel) = path.strip_prefix(root) {
            let rel = rel.to_string_lossy().replace('\\', "/");
            if let Ok(abs) = path.canonicalize() {
                files.push((rel, abs));
            }
        }
    }
}
