//! `/api/v1/instances/{name}/files?path=`: raw bytes in and out, owner and mode in headers.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use berth_guestfs::rootfs::{GuestEntry, GuestFileInfo};
use berth_types::api::{ErrorBody, FileListing};
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::InstancePath;
use crate::api::access::{Rule, Who};
use crate::api::binary::Binary;
use crate::api::extract::{Caller, Query, body_reader};
use crate::api::reply::stream;
use crate::api::{ApiError, AppState};
use crate::app::AppError;
use crate::app::files::PushTarget;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(pull, push))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct FileQuery {
    /// Absolute path in the guest.
    path: String,
    /// Octal permission bits for a push, default `0644`.
    mode: Option<String>,
    /// Owner for a push, default 0.
    uid: Option<u32>,
    gid: Option<u32>,
}

#[utoipa::path(get, path = "/api/v1/instances/{name}/files", operation_id = "file.pull",
    extensions(("x-berth-access" = json!(Rule::reads(Who::InstanceOwner)))), tag = "files",
    params(InstancePath, FileQuery),
    responses((status = 200, description = "The file's bytes (`X-Berth-Type: file`, with `X-Berth-Mode`, `X-Berth-Uid`, `X-Berth-Gid`), or a directory listing as JSON (`X-Berth-Type: directory`)",
        content((Binary = "application/octet-stream"), (FileListing = "application/json"))),
              (status = 404, description = "No such instance or path", body = ErrorBody),
              (status = 409, description = "The instance has no root filesystem on this host (a remote or simulated backend), or stopped meanwhile", body = ErrorBody)))]
pub async fn pull(
    State(app): State<AppState>,
    Caller(caller): Caller,
    Path(InstancePath { name }): Path<InstancePath>,
    Query(query): Query<FileQuery>,
) -> Result<Response, ApiError> {
    let (info, entry) = app.pull_file(&caller, &name, &query.path).await?;
    let mut response = match entry {
        GuestEntry::File(file) => {
            let file = tokio::fs::File::from_std(file);
            stream(file, "application/octet-stream", info.size, None)
        }
        GuestEntry::Directory(names) => {
            let entries = GuestEntry::names(&names);
            axum::Json(FileListing { entries }).into_response()
        }
    };
    add_info(response.headers_mut(), &info);
    Ok(response)
}

#[utoipa::path(post, path = "/api/v1/instances/{name}/files", operation_id = "file.push",
    extensions(("x-berth-access" = json!(Rule::writes(Who::InstanceOwner)))), tag = "files",
    params(InstancePath, FileQuery),
    request_body(content = Binary, content_type = "application/octet-stream"),
    responses((status = 201, description = "Written"),
              (status = 400, description = "Bad path, mode or owner", body = ErrorBody),
              (status = 404, description = "No such instance", body = ErrorBody),
              (status = 409, description = "The instance has no root filesystem on this host (a remote or simulated backend), or stopped meanwhile", body = ErrorBody)))]
pub async fn push(
    State(app): State<AppState>,
    Caller(caller): Caller,
    Path(InstancePath { name }): Path<InstancePath>,
    Query(query): Query<FileQuery>,
    body: Body,
) -> Result<StatusCode, ApiError> {
    let target = PushTarget::parse(&query.path, query.mode.as_deref(), query.uid, query.gid)
        .map_err(AppError::from)?;
    app.push_file(&caller, &name, target, body_reader(body))
        .await?;
    Ok(StatusCode::CREATED)
}

fn add_info(headers: &mut HeaderMap, info: &GuestFileInfo) {
    headers.insert("x-berth-type", HeaderValue::from_static(info.kind.as_str()));
    let mode = format!("{:04o}", info.mode);
    if let Ok(mode) = HeaderValue::from_str(&mode) {
        headers.insert("x-berth-mode", mode);
    }
    headers.insert("x-berth-uid", HeaderValue::from(info.uid));
    headers.insert("x-berth-gid", HeaderValue::from(info.gid));
}
