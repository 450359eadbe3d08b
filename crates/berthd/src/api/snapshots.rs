//! `/api/v1/instances/{name}/snapshots[/{snap}[/restore]]`.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use berth_types::api::{ErrorBody, OperationEnvelope};
use berth_types::snapshot::{CreateSnapshotRequest, Snapshot};

use super::{ApiError, AppState, JsonBody, accepted};

#[utoipa::path(get, path = "/api/v1/instances/{name}/snapshots", tag = "snapshots",
    params(("name" = String, Path, description = "Instance name")),
    responses((status = 200, description = "Snapshots, oldest first", body = [Snapshot]),
              (status = 404, description = "No such instance", body = ErrorBody)))]
pub async fn list(
    State(app): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<Vec<Snapshot>>, ApiError> {
    Ok(Json(app.list_snapshots(&name)?))
}

#[utoipa::path(post, path = "/api/v1/instances/{name}/snapshots", tag = "snapshots",
    request_body = CreateSnapshotRequest,
    params(("name" = String, Path, description = "Instance name")),
    responses((status = 202, description = "Snapshot started", body = OperationEnvelope),
              (status = 400, description = "Bad name", body = ErrorBody),
              (status = 404, description = "No such instance", body = ErrorBody),
              (status = 409, description = "Name taken, or the instance is busy", body = ErrorBody)))]
pub async fn create(
    State(app): State<AppState>,
    Path(name): Path<String>,
    JsonBody(request): JsonBody<CreateSnapshotRequest>,
) -> Result<Response, ApiError> {
    Ok(accepted(app.create_snapshot(&name, request)?))
}

#[utoipa::path(post, path = "/api/v1/instances/{name}/snapshots/{snap}/restore", tag = "snapshots",
    params(("name" = String, Path, description = "Instance name"),
           ("snap" = String, Path, description = "Snapshot name")),
    responses((status = 202, description = "Restore started", body = OperationEnvelope),
              (status = 404, description = "No such instance or snapshot", body = ErrorBody),
              (status = 409, description = "The instance is busy", body = ErrorBody)))]
pub async fn restore(
    State(app): State<AppState>,
    Path((name, snap)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    Ok(accepted(app.restore_snapshot(&name, &snap).await?))
}

#[utoipa::path(delete, path = "/api/v1/instances/{name}/snapshots/{snap}", tag = "snapshots",
    params(("name" = String, Path, description = "Instance name"),
           ("snap" = String, Path, description = "Snapshot name")),
    responses((status = 204, description = "Deleted"),
              (status = 404, description = "No such instance or snapshot", body = ErrorBody),
              (status = 409, description = "The instance is busy", body = ErrorBody)))]
pub async fn delete(
    State(app): State<AppState>,
    Path((name, snap)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    app.delete_snapshot(&name, &snap).await?;
    Ok(StatusCode::NO_CONTENT)
}
