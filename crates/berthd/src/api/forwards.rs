//! `/api/v1/instances/{name}/forwards[/{id}]`.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use berth_types::Forward;
use berth_types::api::{CreateForwardRequest, ErrorBody};

use super::{ApiError, AppState, JsonBody};

#[utoipa::path(get, path = "/api/v1/instances/{name}/forwards", tag = "network",
    params(("name" = String, Path, description = "Instance name")),
    responses((status = 200, description = "The instance's port forwards", body = [Forward]),
              (status = 404, description = "No such instance", body = ErrorBody)))]
pub async fn list(
    State(app): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<Vec<Forward>>, ApiError> {
    Ok(Json(app.list_forwards(&name)?))
}

#[utoipa::path(post, path = "/api/v1/instances/{name}/forwards", tag = "network",
    request_body = CreateForwardRequest,
    params(("name" = String, Path, description = "Instance name")),
    responses((status = 201, description = "The forward, in place", body = Forward),
              (status = 400, description = "Bad input or a clash; the field is named", body = ErrorBody),
              (status = 404, description = "No such instance", body = ErrorBody)))]
pub async fn create(
    State(app): State<AppState>,
    Path(name): Path<String>,
    JsonBody(request): JsonBody<CreateForwardRequest>,
) -> Result<(StatusCode, Json<Forward>), ApiError> {
    let forward = app.add_forward(&name, request).await?;
    Ok((StatusCode::CREATED, Json(forward)))
}

#[utoipa::path(delete, path = "/api/v1/instances/{name}/forwards/{id}", tag = "network",
    params(("name" = String, Path, description = "Instance name"),
           ("id" = String, Path, description = "Forward id")),
    responses((status = 204, description = "Removed"),
              (status = 404, description = "No such instance or forward", body = ErrorBody)))]
pub async fn delete(
    State(app): State<AppState>,
    Path((name, id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    app.remove_forward(&name, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
