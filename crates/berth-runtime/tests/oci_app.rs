//! Application containers on the oci backend with the real crun and runc: an OCI archive
//! built here from busybox-static (never pulled), imported with berth-image, run with its
//! entrypoint and cmd, and with the cmd replaced. Run as root (CI is root).

use std::fs;
use std::path::Path;
use std::time::Duration;

use berth_runtime::local::LocalConfig;
use berth_runtime::oci::{AppSpec, OciRuntime, OciTool};
use berth_types::InstanceName;
use sha2::{Digest, Sha256};

type Error = Box<dyn std::error::Error>;

const BUSYBOX: &str = "/bin/busybox";

fn blob(dir: &Path, data: &[u8]) -> Result<String, Error> {
    let hex: String = Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    fs::create_dir_all(dir.join("blobs/sha256"))?;
    fs::write(dir.join("blobs/sha256").join(&hex), data)?;
    Ok(format!("sha256:{hex}"))
}

/// An OCI archive: busybox as /bin/busybox with /bin/sh, an entrypoint of `sh -c` and a cmd
/// printing an environment variable from the image config.
fn busybox_archive(dir: &Path) -> Result<std::path::PathBuf, Error> {
    let layout = dir.join("layout");
    let mut layer = tar::Builder::new(Vec::new());
    layer.append_path_with_name(BUSYBOX, "bin/busybox")?;
    for link in ["sh", "echo", "hostname", "cat", "pwd"] {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Symlink);
        h.set_size(0);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(0);
        h.set_mode(0o777);
        layer.append_link(&mut h, format!("bin/{link}"), "busybox")?;
    }
    for d in ["proc", "sys", "dev", "tmp", "srv"] {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Directory);
        h.set_size(0);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(0);
        h.set_mode(0o755);
        layer.append_data(&mut h, d, std::io::empty())?;
    }
    let layer = blob(&layout, &layer.into_inner()?)?;
    let config = serde_json::json!({"architecture": "amd64", "os": "linux", "config": {
        "Entrypoint": ["/bin/sh", "-c"],
        "Cmd": ["echo hello from $GREETING in $(pwd) on $(hostname)"],
        "Env": ["PATH=/bin", "GREETING=busybox"],
        "WorkingDir": "/srv"}});
    let config = blob(&layout, config.to_string().as_bytes())?;
    let manifest = serde_json::json!({"schemaVersion": 2,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": layer}]});
    let manifest = blob(&layout, manifest.to_string().as_bytes())?;
    fs::write(
        layout.join("index.json"),
        serde_json::json!({"schemaVersion": 2, "manifests": [{"digest": manifest,
            "mediaType": "application/vnd.oci.image.manifest.v1+json"}]})
        .to_string(),
    )?;
    fs::write(
        layout.join("oci-layout"),
        r#"{"imageLayoutVersion":"1.0.0"}"#,
    )?;
    let archive = dir.join("busybox.tar");
    let mut b = tar::Builder::new(fs::File::create(&archive)?);
    b.append_dir_all(".", &layout)?;
    b.finish()?;
    Ok(archive)
}

fn run_with(tool: OciTool) -> Result<(), Error> {
    if !Path::new(BUSYBOX).exists() {
        return Err("busybox-static is not installed (scripts/setup.sh installs it)".into());
    }
    let t = tempfile::tempdir()?;
    let archive = busybox_archive(t.path())?;
    let (rootfs, scratch) = (t.path().join("rootfs"), t.path().join("scratch"));
    fs::create_dir_all(&rootfs)?;
    fs::create_dir_all(&scratch)?;
    let image = berth_image::oci::import(&archive, &rootfs, &scratch)?;
    let runtime = OciRuntime::new(
        LocalConfig {
            state_root: t.path().join("state"),
            shim_command: Vec::new(),
        },
        Some(tool),
    );
    let id = format!("app-{}-{}", tool.program(), std::process::id());
    let spec = |args: &[String], bundle: &str| -> Result<AppSpec, Error> {
        let bundle = t.path().join(bundle);
        fs::create_dir_all(&bundle)?;
        Ok(AppSpec {
            id: InstanceName::parse(&id)?,
            rootfs: rootfs.clone(),
            argv: image.argv(args),
            env: image.env.clone(),
            cwd: image.working_dir.clone().unwrap_or_else(|| "/".into()),
            limits: berth_types::Limits {
                memory: Some(64 << 20),
                processes: Some(64),
                ..Default::default()
            },
            bundle,
            timeout: Duration::from_secs(30),
            output_cap: 1 << 20,
        })
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let out = rt.block_on(runtime.run_app(&spec(&[], "b1")?))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.exit_code,
        0,
        "{stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(stdout.trim(), format!("hello from busybox in /srv on {id}"));
    let out = rt.block_on(runtime.run_app(&spec(&["echo replaced; exit 3".into()], "b2")?))?;
    assert_eq!(out.exit_code, 3);
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "replaced");
    for dir in fs::read_dir("/sys/fs/cgroup")?.flatten() {
        assert!(
            !dir.path().join("berth").join(&id).exists(),
            "cgroup left in {dir:?}"
        );
    }
    Ok(())
}

#[test]
fn crun_runs_an_imported_image_with_its_entrypoint() -> Result<(), Error> {
    run_with(OciTool::Crun)
}

#[test]
fn runc_runs_an_imported_image_with_its_entrypoint() -> Result<(), Error> {
    run_with(OciTool::Runc)
}
