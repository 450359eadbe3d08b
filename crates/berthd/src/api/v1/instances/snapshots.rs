//! `/api/v1/instances/{name}/snapshots[/{snap}[/restore]]`.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use berth_types::api::{ErrorBody, OperationEnvelope};
use berth_types::snapshot::{CreateSnapshotRequest, Snapshot};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::InstancePath;
use crate::api::access::{Rule, Who};
use crate::api::extract::Caller;
use crate::api::{ApiError, AppState, JsonBody, accepted};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(delete))
        .routes(routes!(restore))
}

/// `{name}` and `{snap}` in `/instances/{name}/snapshots/{snap}…`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct SnapshotPath {
    /// Instance name.
    name: String,
    /// Snapshot name.
    snap: String,
}

#[utoipa::path(get, path = "/api/v1/instances/{name}/snapshots", operation_id = "snapshot.list",
    extensions(("x-berth-access" = json!(Rule::reads(Who::InstanceOwner)))), tag = "snapshots",
    params(InstancePath),
    responses((status = 200, description = "Snapshots, oldest first", body = [Snapshot]),
              (status = 404, description = "No such instance", body = ErrorBody)))]
pub async fn list(
    State(app): State<AppState>,
    Caller(caller): Caller,
    Path(InstancePath { name }): Path<InstancePath>,
) -> Result<Json<Vec<Snapshot>>, ApiError> {
    Ok(Json(app.list_snapshots(&caller, &name)?))
}

#[utoipa::path(post, path = "/api/v1/instances/{name}/snapshots", operation_id = "snapshot.create",
    extensions(("x-berth-access" = json!(Rule::writes(Who::InstanceOwner)))), tag = "snapshots",
    request_body = Option<CreateSnapshotRequest>,
    params(InstancePath),
    responses((status = 202, description = "Snapshot started", body = OperationEnvelope),
              (status = 400, description = "Bad name", body = ErrorBody),
              (status = 404, description = "No such instance", body = ErrorBody),
              (status = 409, description = "Name taken, or the instance is busy", body = ErrorBody)))]
pub async fn create(
    State(app): State<AppState>,
    Caller(caller): Caller,
    Path(InstancePath { name }): Path<InstancePath>,
    JsonBody(request): JsonBody<CreateSnapshotRequest>,
) -> Result<Response, ApiError> {
    Ok(accepted(app.create_snapshot(&caller, &name, request)?))
}

#[utoipa::path(post, path = "/api/v1/instances/{name}/snapshots/{snap}/restore", operation_id = "snapshot.restore",
    extensions(("x-berth-access" = json!(Rule::writes(Who::InstanceOwner)))), tag = "snapshots",
    params(SnapshotPath),
    responses((status = 202, description = "Restore started", body = OperationEnvelope),
              (status = 404, description = "No such instance or snapshot", body = ErrorBody),
              (status = 409, description = "The instance is busy", body = ErrorBody)))]
pub async fn restore(
    State(app): State<AppState>,
    Caller(caller): Caller,
    Path(SnapshotPath { name, snap }): Path<SnapshotPath>,
) -> Result<Response, ApiError> {
    Ok(accepted(app.restore_snapshot(&caller, &name, &snap).await?))
}

#[utoipa::path(delete, path = "/api/v1/instances/{name}/snapshots/{snap}", operation_id = "snapshot.delete",
    extensions(("x-berth-access" = json!(Rule::writes(Who::InstanceOwner)))), tag = "snapshots",
    params(SnapshotPath),
    responses((status = 204, description = "Deleted"),
              (status = 404, description = "No such instance or snapshot", body = ErrorBody),
              (status = 409, description = "The instance is busy", body = ErrorBody)))]
pub async fn delete(
    State(app): State<AppState>,
    Caller(caller): Caller,
    Path(SnapshotPath { name, snap }): Path<SnapshotPath>,
) -> Result<StatusCode, ApiError> {
    app.delete_snapshot(&caller, &name, &snap).await?;
    Ok(StatusCode::NO_CONTENT)
}
