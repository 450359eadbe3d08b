//! Every step of every operation, for the tests that fail the daemon there (`error`) or crash
//! it (`pause`, then kill -9): how to set each operation up on the sim backend, start it, and
//! check that what it half-made is gone. The steps come from the operations' own
//! declarations (`berthd::app::steps::declared`), so a new step is tested without an edit.

use std::path::Path;
use std::time::Duration;

use axum::http::StatusCode;
use berth_types::OperationKind;
use serde_json::{Value, json};

pub type Error = Box<dyn std::error::Error>;

/// The instance every operation works on.
pub const INSTANCE: &str = "victim";
/// The snapshot a restore goes back to.
pub const SNAPSHOT: &str = "before";
/// The snapshot a snapshot operation takes.
pub const TAKEN: &str = "taken";
/// The name an import gives the backup of `INSTANCE`.
pub const IMPORTED: &str = "revived";

/// A daemon the scenarios talk to, in process or over its socket, as an admin.
#[allow(async_fn_in_trait, reason = "used generically by the tests only")]
pub trait Api {
    async fn json(
        &self,
        method: &str,
        path: &str,
        body: Value,
    ) -> Result<(StatusCode, Value), Error>;
    /// A request with a body of `content_type`.
    async fn raw(
        &self,
        method: &str,
        path: &str,
        content_type: &str,
        body: Vec<u8>,
    ) -> Result<(StatusCode, Value), Error>;
    fn data(&self) -> &Path;
}

/// Every declared (operation, step).
pub fn every_step() -> Vec<(OperationKind, &'static str)> {
    OperationKind::ALL
        .iter()
        .flat_map(|&kind| {
            berthd::app::step_catalog::declared(kind)
                .into_iter()
                .map(move |step| (kind, step.name))
        })
        .collect()
}

/// Waits for the operation in a 202 answer to end; returns it.
pub async fn finished(api: &impl Api, accepted: &Value) -> Result<Value, Error> {
    let id = operation_id(accepted)?;
    for _ in 0..600 {
        let (_, op) = api
            .json("GET", &format!("/api/v1/operations/{id}"), Value::Null)
            .await?;
        if ["success", "failure", "cancelled"].contains(&op["status"].as_str().unwrap_or("")) {
            return Ok(op);
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    Err(format!("operation {id} did not end").into())
}

pub fn operation_id(accepted: &Value) -> Result<String, Error> {
    Ok(accepted["operation"]["id"]
        .as_str()
        .ok_or_else(|| format!("no operation in {accepted}"))?
        .to_owned())
}

/// Starts an operation and waits for its success.
async fn done(api: &impl Api, method: &str, path: &str, body: Value) -> Result<(), Error> {
    let (status, accepted) = api.json(method, path, body).await?;
    if status != StatusCode::ACCEPTED {
        return Err(format!("{method} {path}: {status} {accepted}").into());
    }
    let op = finished(api, &accepted).await?;
    if op["status"] != "success" {
        return Err(format!("{method} {path} failed: {op}").into());
    }
    Ok(())
}

fn at(path: &str) -> String {
    format!("/api/v1/instances/{INSTANCE}{path}")
}

/// Sets up what an operation of `kind` works on; the archive to import, for an import.
pub async fn prepare(api: &impl Api, kind: OperationKind) -> Result<Option<Vec<u8>>, Error> {
    use OperationKind as K;
    let launch = |start: bool| {
        let body = json!({"name": INSTANCE, "image": "debian/12", "start": start});
        done(api, "POST", "/api/v1/instances", body)
    };
    match kind {
        K::InstanceCreate | K::ImageBuild | K::InstanceRun | K::ImageDelete => {}
        K::InstanceStart => launch(false).await?,
        K::InstanceResume => {
            launch(true).await?;
            done(api, "POST", &at("/suspend"), Value::Null).await?;
        }
        K::InstanceRestore => {
            launch(true).await?;
            done(api, "POST", &at("/snapshots"), json!({"name": SNAPSHOT})).await?;
        }
        K::InstanceImport => {
            launch(true).await?;
            done(api, "POST", &at("/backups"), json!({})).await?;
            let dir = api.data().join("backups").join(INSTANCE);
            let archive = std::fs::read_dir(&dir)?
                .flatten()
                .find(|e| e.file_name().to_string_lossy().ends_with(".tar.zst"))
                .ok_or("no archive")?;
            return Ok(Some(std::fs::read(archive.path())?));
        }
        _ => launch(true).await?,
    }
    Ok(None)
}

/// Starts the operation of `kind`; its 202 answer.
pub async fn start(
    api: &impl Api,
    kind: OperationKind,
    archive: Option<Vec<u8>>,
) -> Result<Value, Error> {
    use OperationKind as K;
    let (status, body) = match kind {
        K::InstanceCreate => {
            let body = json!({"name": INSTANCE, "image": "debian/12"});
            api.json("POST", "/api/v1/instances", body).await?
        }
        K::InstanceStart | K::InstanceStop | K::InstanceRestart => {
            let verb = kind.as_str().trim_start_matches("instance_");
            api.json("POST", &at(&format!("/{verb}")), Value::Null)
                .await?
        }
        K::InstanceSuspend => api.json("POST", &at("/suspend"), Value::Null).await?,
        K::InstanceResume => api.json("POST", &at("/resume"), Value::Null).await?,
        K::InstanceDelete => api.json("DELETE", &at(""), json!({"force": true})).await?,
        K::InstanceSnapshot => {
            api.json("POST", &at("/snapshots"), json!({"name": TAKEN}))
                .await?
        }
        K::InstanceRestore => {
            let path = at(&format!("/snapshots/{SNAPSHOT}/restore"));
            api.json("POST", &path, Value::Null).await?
        }
        K::InstanceBackup => api.json("POST", &at("/backups"), json!({})).await?,
        K::InstanceImport => {
            let path = format!("/api/v1/instances?name={IMPORTED}");
            let archive = archive.ok_or("no archive to import")?;
            api.raw("POST", &path, "application/zstd", archive).await?
        }
        K::ImageBuild => {
            api.json("POST", "/api/v1/images", json!({"image": "debian/12"}))
                .await?
        }
        K::InstanceRun | K::ImageDelete => return Err(format!("{kind:?} is no operation").into()),
    };
    if status != StatusCode::ACCEPTED {
        return Err(format!("{kind:?}: {status} {body}").into());
    }
    Ok(body)
}

/// Every entry under `dir` whose name contains `needle`.
pub fn traces(dir: &Path, needle: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if entry.file_name().to_string_lossy().contains(needle) {
                found.push(path.display().to_string());
            } else if entry.file_type().is_ok_and(|t| t.is_dir()) && !path.ends_with("rootfs") {
                stack.push(path);
            }
        }
    }
    found
}

async fn names(api: &impl Api, path: &str, key: &str) -> Result<Vec<String>, Error> {
    let (status, list) = api.json("GET", path, Value::Null).await?;
    if status != StatusCode::OK {
        return Err(format!("GET {path}: {status} {list}").into());
    }
    Ok(list
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|item| item[key].as_str().map(str::to_owned))
        .collect())
}

/// Checks that an operation of `kind` that failed (or was cut off) left nothing half-made:
/// what it creates is gone without a trace on the host, what it changes is as it was.
pub async fn check_nothing_half_made(api: &impl Api, kind: OperationKind) -> Result<(), Error> {
    use OperationKind as K;
    let storage = api.data().join("storage");
    let gone = |name: &str| {
        let leftovers = [
            traces(&storage, name),
            traces(&api.data().join("instances"), name),
        ];
        match leftovers.concat() {
            left if left.is_empty() => Ok(()),
            left => Err(format!("{name} left {left:?}")),
        }
    };
    let instance = |name: &str| format!("/api/v1/instances/{name}");
    match kind {
        K::InstanceCreate | K::InstanceImport => {
            let name = if kind == K::InstanceCreate {
                INSTANCE
            } else {
                IMPORTED
            };
            let (status, body) = api.json("GET", &instance(name), Value::Null).await?;
            if status != StatusCode::NOT_FOUND {
                return Err(format!("{name} is still there: {body}").into());
            }
            gone(name)?;
            let incoming = traces(&api.data().join("backups"), ".incoming-");
            if !incoming.is_empty() {
                return Err(format!("uploads left: {incoming:?}").into());
            }
        }
        K::InstanceDelete => {
            let (status, body) = api.json("GET", &instance(INSTANCE), Value::Null).await?;
            if status != StatusCode::NOT_FOUND {
                return Err(format!("{INSTANCE} is still there: {body}").into());
            }
            gone(INSTANCE)?;
        }
        K::InstanceSnapshot => {
            let snaps = names(api, &at("/snapshots"), "name").await?;
            if snaps.iter().any(|s| s == TAKEN) || !traces(&storage, TAKEN).is_empty() {
                return Err(format!("snapshot {TAKEN} left: {snaps:?}").into());
            }
        }
        K::InstanceBackup => {
            let backups = names(api, &at("/backups"), "id").await?;
            let files = traces(&api.data().join("backups"), ".tar.zst");
            let snaps = traces(&storage, "backup-");
            if !(backups.is_empty() && files.is_empty() && snaps.is_empty()) {
                return Err(format!("backup left: {backups:?} {files:?} {snaps:?}").into());
            }
        }
        K::InstanceRestore => {
            let snaps = names(api, &at("/snapshots"), "name").await?;
            if snaps != [SNAPSHOT] {
                return Err(format!("snapshots changed: {snaps:?}").into());
            }
            let rootfs = traces(&storage, INSTANCE);
            let whole = rootfs
                .iter()
                .any(|p| Path::new(p).join("etc/hostname").is_file());
            if !whole {
                return Err(format!("{INSTANCE} lost its root filesystem: {rootfs:?}").into());
            }
        }
        K::InstanceStart
        | K::InstanceStop
        | K::InstanceRestart
        | K::InstanceSuspend
        | K::InstanceResume => {
            let (status, body) = api.json("GET", &instance(INSTANCE), Value::Null).await?;
            let state = body["state"].as_str().unwrap_or_default();
            if status != StatusCode::OK || !["running", "stopped", "suspended"].contains(&state) {
                return Err(format!("{INSTANCE} is not settled: {status} {body}").into());
            }
        }
        K::ImageBuild => {
            let images = names(api, "/api/v1/images", "status").await?;
            if images.iter().any(|s| s != "cached") {
                return Err(format!("the cache changed: {images:?}").into());
            }
        }
        K::InstanceRun | K::ImageDelete => {}
    }
    // The quota ledger holds what exists, no more.
    let instances = names(api, "/api/v1/instances", "name").await?;
    let (_, me) = api.json("GET", "/api/v1/auth/me", Value::Null).await?;
    if me["usage"]["instances"] != instances.len() {
        return Err(format!("quota holds {} for {instances:?}", me["usage"]).into());
    }
    Ok(())
}

/// Checks that the name a failed create or import wanted can be taken again, with addresses.
pub async fn check_name_free(api: &impl Api, kind: OperationKind) -> Result<(), Error> {
    let name = match kind {
        OperationKind::InstanceCreate => INSTANCE,
        OperationKind::InstanceImport => IMPORTED,
        _ => return Ok(()),
    };
    let body = json!({"name": name, "image": "debian/12", "start": false});
    done(api, "POST", "/api/v1/instances", body).await
}
