//! Application images: importing an OCI layout / docker archive into the image cache
//! (`<cache>/oci/<alias>/{rootfs,app.json}`) and running one (`berth run oci:ALIAS`) with
//! crun or runc and the image's entrypoint, on a throwaway copy of its root filesystem. The
//! runner is a service of its own beside the backends, not one of them.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Duration;

use berth_image::oci::AppConfig;
use berth_runtime::Runtime;
use berth_runtime::oci::OciRuntime;
use berth_types::api::{ExecResponse, ImportedImage, RunRequest};
use berth_types::{FieldError, InstanceName};
use uuid::Uuid;

use super::access::{self, Want};
use super::{App, AppError, Principal};
use crate::config::Config;

/// Runs application containers with the OCI tool of `[oci] runtime`, its state beside the oci
/// backend's.
pub(crate) struct AppRunner {
    oci: OciRuntime,
}

impl AppRunner {
    pub fn new(config: &Config) -> Self {
        let shim =
            std::env::current_exe().unwrap_or_else(|_| PathBuf::from("/usr/local/bin/berthd"));
        let state = berth_runtime::local::LocalConfig {
            state_root: config.runtime_dir.join("oci"),
            shim_command: vec![shim.into_os_string(), "shim".into()],
        };
        let tool = berth_runtime::oci::OciTool::parse(&config.oci.runtime).unwrap_or_default();
        Self {
            oci: OciRuntime::new(state, tool),
        }
    }

    /// The runner, or why this host cannot run application containers (400 naming it).
    fn usable(&self) -> Result<&OciRuntime, AppError> {
        self.oci.check_usable().map_err(|reason| {
            AppError::Invalid(FieldError::new(
                "backend",
                format!("backend oci is not usable here: {reason}"),
            ))
        })?;
        Ok(&self.oci)
    }
}

/// Largest archive accepted.
const MAX_ARCHIVE: u64 = 8 << 30;
/// Output kept of each stream of a run.
const OUTPUT_CAP: usize = 4 << 20;
const APP_CONFIG: &str = "app.json";

fn valid_alias(alias: &str) -> bool {
    let b = alias.as_bytes();
    !b.is_empty()
        && b.len() <= 63
        && b[0].is_ascii_lowercase() | b[0].is_ascii_digit()
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || b"._-".contains(c))
}

fn internal(what: &str) -> impl FnOnce(std::io::Error) -> AppError + '_ {
    move |e| AppError::internal(what, e)
}

impl App {
    fn app_images_dir(&self) -> PathBuf {
        self.config.image_cache_dir().join("oci")
    }

    /// Unpacks the archive in `body` as image `alias` (replacing one of that name).
    pub async fn import_app_image(
        &self,
        caller: &Principal,
        alias: &str,
        body: Box<dyn Read + Send>,
    ) -> Result<ImportedImage, AppError> {
        access::admin(caller, Want::Write)?;
        if !valid_alias(alias) {
            return Err(FieldError::new(
                "alias",
                format!("{alias:?} is not 1-63 characters of [a-z0-9._-] starting with a letter or digit"),
            )
            .into());
        }
        let root = self.app_images_dir();
        let alias = alias.to_owned();
        tokio::task::spawn_blocking(move || import_blocking(&root, &alias, body))
            .await
            .map_err(|e| AppError::internal("import", e))?
    }

    /// Imported images as `GET /images` shows them: `oci:ALIAS`, status `imported`.
    pub(crate) fn app_images(&self) -> Vec<berth_types::api::ImageInfo> {
        let mut found: Vec<berth_types::api::ImageInfo> = std::fs::read_dir(self.app_images_dir())
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|entry| {
                let alias = entry.file_name().to_string_lossy().into_owned();
                let config = entry.path().join(APP_CONFIG);
                let meta = std::fs::metadata(&config).ok()?;
                valid_alias(&alias).then(|| berth_types::api::ImageInfo {
                    alias: format!("oci:{alias}"),
                    distro: "oci".into(),
                    version: alias.clone(),
                    codename: String::new(),
                    arch: berth_types::Arch::host()
                        .map(|a| a.as_str().to_owned())
                        .unwrap_or_default(),
                    status: "imported".into(),
                    size: None,
                    built_at: meta.modified().ok().map(chrono::DateTime::from),
                    channel: None,
                    origin: Some("imported (berth image import)".into()),
                    ..Default::default()
                })
            })
            .collect();
        found.sort_by(|a, b| a.alias.cmp(&b.alias));
        found
    }

    /// Removes imported image `alias`.
    pub(crate) fn delete_app_image(&self, alias: &str) -> Result<(), AppError> {
        let dir = self.app_images_dir().join(alias);
        if !valid_alias(alias) || !dir.join(APP_CONFIG).is_file() {
            return Err(AppError::NotFound(format!("imported image oci:{alias}")));
        }
        std::fs::remove_dir_all(&dir).map_err(internal("deleting the image"))
    }

    /// Runs `request.image`'s entrypoint once and returns its output.
    pub async fn run_app_image(
        &self,
        caller: &Principal,
        request: RunRequest,
    ) -> Result<ExecResponse, AppError> {
        access::admin(caller, Want::Write)?;
        let alias = request.image.strip_prefix("oci:").ok_or_else(|| {
            FieldError::new(
                "image",
                format!(
                    "{:?}: run imported images as oci:ALIAS (berth image import FILE)",
                    request.image
                ),
            )
        })?;
        let dir = self.app_images_dir().join(alias);
        if !valid_alias(alias) || !dir.join(APP_CONFIG).is_file() {
            return Err(AppError::NotFound(format!(
                "imported image {alias:?}; import it with berth image import FILE --alias {alias}"
            )));
        }
        let oci = self.apps.usable()?;
        let text = std::fs::read(dir.join(APP_CONFIG)).map_err(internal("reading app.json"))?;
        let image: AppConfig =
            serde_json::from_slice(&text).map_err(|e| AppError::internal("app.json", e))?;
        let id = InstanceName::parse(&format!(
            "run-{}",
            &Uuid::new_v4().simple().to_string()[..12]
        ))
        .map_err(|e| AppError::internal("run id", e))?;
        let work = self.config.data_dir.join("apps").join(id.as_str());
        let rootfs = work.join("rootfs");
        let bundle = work.join("bundle");
        std::fs::create_dir_all(&bundle).map_err(internal("run dir"))?;
        let copied = tokio::process::Command::new("cp")
            .args(["-a", "--reflink=auto"])
            .arg(dir.join("rootfs"))
            .arg(&rootfs)
            .status()
            .await;
        let mut env = image.env.clone();
        env.extend(request.env.iter().map(|(k, v)| format!("{k}={v}")));
        let spec = berth_runtime::oci::AppSpec {
            id: id.clone(),
            rootfs,
            argv: image.argv(&request.command),
            env,
            cwd: image.working_dir.clone().unwrap_or_else(|| "/".into()),
            limits: berth_types::Limits {
                memory: request.memory,
                ..Default::default()
            },
            bundle,
            timeout: Duration::from_secs(request.timeout.unwrap_or(60)),
            output_cap: OUTPUT_CAP,
        };
        let result = match copied {
            Ok(s) if s.success() => oci.run_app(&spec).await.map_err(|e| match e {
                berth_runtime::RuntimeError::ExecTimeout(s) => AppError::Invalid(FieldError::new(
                    "timeout",
                    format!("the command ran longer than {s} s and was killed"),
                )),
                other => AppError::internal("run", other),
            }),
            Ok(s) => Err(AppError::internal("copying the image", s)),
            Err(e) => Err(AppError::internal("copying the image", e)),
        };
        let _ = tokio::fs::remove_dir_all(&work).await;
        tracing::info!(image = alias, run = %id, "app run");
        let out = result?;
        Ok(ExecResponse {
            exit_code: out.exit_code,
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            truncated: out.truncated,
        })
    }
}

fn import_blocking(
    root: &Path,
    alias: &str,
    body: Box<dyn Read + Send>,
) -> Result<ImportedImage, AppError> {
    let incoming = root.join(format!(".incoming-{}", Uuid::new_v4().simple()));
    let result = unpack(&incoming, body).and_then(|config| {
        let target = root.join(alias);
        if target.exists() {
            std::fs::remove_dir_all(&target).map_err(internal("replacing the old image"))?;
        }
        std::fs::rename(incoming.join("image"), &target).map_err(internal("storing the image"))?;
        Ok(config)
    });
    let _ = std::fs::remove_dir_all(&incoming);
    let config = result?;
    tracing::info!(image = alias, "imported");
    Ok(ImportedImage {
        alias: alias.to_owned(),
        entrypoint: config.entrypoint,
        cmd: config.cmd,
        env: config.env,
        working_dir: config.working_dir,
    })
}

/// Saves the upload, unpacks it into `incoming/image/rootfs` and writes `app.json`.
fn unpack(incoming: &Path, body: Box<dyn Read + Send>) -> Result<AppConfig, AppError> {
    let (rootfs, scratch) = (incoming.join("image/rootfs"), incoming.join("scratch"));
    for d in [&rootfs, &scratch] {
        std::fs::create_dir_all(d).map_err(internal("import dir"))?;
    }
    let archive = incoming.join("archive.tar");
    let mut file = std::fs::File::create(&archive).map_err(internal("saving the upload"))?;
    let copied = std::io::copy(&mut body.take(MAX_ARCHIVE + 1), &mut file)
        .map_err(|e| FieldError::new("body", format!("the upload broke off: {e}")))?;
    if copied > MAX_ARCHIVE {
        return Err(FieldError::new(
            "body",
            format!("the archive is larger than {MAX_ARCHIVE} bytes"),
        )
        .into());
    }
    let config = berth_image::oci::import(&archive, &rootfs, &scratch)
        .map_err(|e| FieldError::new("body", super::error::error_chain(&e)))?;
    let text = serde_json::to_vec_pretty(&config).map_err(|e| AppError::internal("app.json", e))?;
    std::fs::write(incoming.join("image").join(APP_CONFIG), text).map_err(internal("app.json"))?;
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::valid_alias;

    #[test]
    fn aliases_are_plain_names() {
        assert!(valid_alias("busybox"));
        assert!(valid_alias("web-1.2_x"));
        for bad in ["", "-x", "Up", "a/b", "../x", &"a".repeat(64)] {
            assert!(!valid_alias(bad), "{bad}");
        }
    }
}
