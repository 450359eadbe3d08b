//! `/api/v1/instances` and `/api/v1/instances/{name}`; what lies below an instance has a module
//! each (`power` for the verbs, `snapshots`, `backups`, …).

mod backups;
mod console;
mod exec;
mod files;
mod forwards;
pub mod metrics;
mod password;
mod power;
mod snapshots;

use axum::Json;
use axum::extract::{Path, State};
use axum::response::Response;
use berth_types::api::{
    CreateInstanceRequest, ErrorBody, ImportQuery, OperationEnvelope, PatchInstanceRequest,
    PowerRequest,
};
use berth_types::{CacheStatus, Instance};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::api::access::{Rule, Who};
use crate::api::binary::Binary;
use crate::api::extract::{Caller, CreateOrImport, Query, body_reader};
use crate::api::reply::with_cache_status;
use crate::api::{ApiError, AppState, JsonBody, accepted, accepted_with_password};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(get, patch, delete))
        .merge(power::routes())
        .merge(exec::routes())
        .merge(password::routes())
        .merge(console::routes())
        .merge(files::routes())
        .merge(forwards::routes())
        .merge(snapshots::routes())
        .merge(backups::routes())
        .merge(metrics::routes())
}

/// `{name}` in `/instances/{name}/…`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct InstancePath {
    /// Instance name.
    pub name: String,
}

#[utoipa::path(get, path = "/api/v1/instances", operation_id = "instance.list", tag = "instances",
    extensions(("x-berth-access" = json!(Rule::reads(Who::User)))),
    responses((status = 200, description = "All instances", body = [Instance],
        headers(("X-Cache-Status" = String, description = "With remote (proxmox) instances: STALE when the backend is unreachable and states are the last known, else MISS or HIT")))))]
pub async fn list(
    State(app): State<AppState>,
    Caller(caller): Caller,
) -> Result<Response, ApiError> {
    let instances = app.list_instances(&caller).await?;
    let cache = instances
        .iter()
        .fold(None, |acc, i| CacheStatus::combine(acc, i.cache));
    Ok(with_cache_status(cache, Json(instances)))
}

#[utoipa::path(post, path = "/api/v1/instances", operation_id = "instance.create", tag = "instances",
    extensions(("x-berth-access" = json!(Rule::writes(Who::User)))),
    request_body(content((CreateInstanceRequest = "application/json"), (Binary = "application/zstd"),
                         (Binary = "application/octet-stream")),
        description = "JSON creates an instance; a backup archive (`application/zstd`) imports one"),
    params(ImportQuery),
    responses((status = 202, description = "Create or import started", body = OperationEnvelope),
              (status = 400, description = "Bad input or a bad archive", body = ErrorBody),
              (status = 409, description = "Name taken", body = ErrorBody)))]
pub async fn create(
    State(app): State<AppState>,
    Caller(caller): Caller,
    Query(query): Query<ImportQuery>,
    body: CreateOrImport<CreateInstanceRequest>,
) -> Result<Response, ApiError> {
    match body {
        CreateOrImport::Json(request) => {
            let (operation, password) = app.create_instance(&caller, request).await?;
            Ok(accepted_with_password(operation, password))
        }
        CreateOrImport::Archive(body) => {
            let name = query.name.as_deref();
            let operation = app
                .import_instance(&caller, name, body_reader(body))
                .await?;
            Ok(accepted(operation))
        }
    }
}

#[utoipa::path(get, path = "/api/v1/instances/{name}", operation_id = "instance.get", tag = "instances",
    extensions(("x-berth-access" = json!(Rule::reads(Who::InstanceOwner)))),
    params(InstancePath),
    responses((status = 200, description = "The instance", body = Instance,
                  headers(("X-Cache-Status" = String, description = "Remote (proxmox) instances: HIT, MISS, or STALE while the backend is unreachable"))),
              (status = 404, description = "No such instance", body = ErrorBody)))]
pub async fn get(
    State(app): State<AppState>,
    Caller(caller): Caller,
    Path(InstancePath { name }): Path<InstancePath>,
) -> Result<Response, ApiError> {
    let instance = app.get_instance(&caller, &name).await?;
    Ok(with_cache_status(instance.cache, Json(instance)))
}

#[utoipa::path(patch, path = "/api/v1/instances/{name}", operation_id = "instance.update", tag = "instances",
    extensions(("x-berth-access" = json!(Rule::writes(Who::InstanceOwner)))),
    params(InstancePath), request_body = PatchInstanceRequest,
    responses((status = 200, description = "The changed instance", body = Instance),
              (status = 400, description = "Bad input", body = ErrorBody),
              (status = 404, description = "No such instance", body = ErrorBody),
              (status = 409, description = "The instance is busy with an operation, or a security flag was changed while it is not stopped", body = ErrorBody)))]
pub async fn patch(
    State(app): State<AppState>,
    Caller(caller): Caller,
    Path(InstancePath { name }): Path<InstancePath>,
    JsonBody(request): JsonBody<PatchInstanceRequest>,
) -> Result<Json<Instance>, ApiError> {
    Ok(Json(app.patch_instance(&caller, &name, request).await?))
}

#[utoipa::path(delete, path = "/api/v1/instances/{name}", operation_id = "instance.delete", tag = "instances",
    extensions(("x-berth-access" = json!(Rule::writes(Who::InstanceOwner)))),
    params(InstancePath), request_body = Option<PowerRequest>,
    responses((status = 202, description = "Delete started", body = OperationEnvelope),
              (status = 404, description = "No such instance", body = ErrorBody),
              (status = 409, description = "Running and not forced", body = ErrorBody)))]
pub async fn delete(
    State(app): State<AppState>,
    Caller(caller): Caller,
    Path(InstancePath { name }): Path<InstancePath>,
    JsonBody(request): JsonBody<PowerRequest>,
) -> Result<Response, ApiError> {
    Ok(accepted(
        app.delete_instance(&caller, &name, request).await?,
    ))
}
