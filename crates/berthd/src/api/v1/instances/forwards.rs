//! `/api/v1/instances/{name}/forwards[/{id}]`.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use berth_types::Forward;
use berth_types::api::{CreateForwardRequest, ErrorBody};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::InstancePath;
use crate::api::access::{Rule, Who};
use crate::api::extract::Caller;
use crate::api::{ApiError, AppState, JsonBody};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(delete))
}

/// `{name}` and `{id}` in `/instances/{name}/forwards/{id}…`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct ForwardPath {
    /// Instance name.
    name: String,
    /// Forward id.
    id: String,
}

#[utoipa::path(get, path = "/api/v1/instances/{name}/forwards", operation_id = "forward.list",
    extensions(("x-berth-access" = json!(Rule::reads(Who::InstanceOwner)))), tag = "network",
    params(InstancePath),
    responses((status = 200, description = "The instance's port forwards", body = [Forward]),
              (status = 404, description = "No such instance", body = ErrorBody)))]
pub async fn list(
    State(app): State<AppState>,
    Caller(caller): Caller,
    Path(InstancePath { name }): Path<InstancePath>,
) -> Result<Json<Vec<Forward>>, ApiError> {
    Ok(Json(app.list_forwards(&caller, &name)?))
}

#[utoipa::path(post, path = "/api/v1/instances/{name}/forwards", operation_id = "forward.create",
    extensions(("x-berth-access" = json!(Rule::writes(Who::InstanceOwner)))), tag = "network",
    request_body = CreateForwardRequest,
    params(InstancePath),
    responses((status = 201, description = "The forward, in place", body = Forward),
              (status = 400, description = "Bad input or a clash; the field is named", body = ErrorBody),
              (status = 404, description = "No such instance", body = ErrorBody)))]
pub async fn create(
    State(app): State<AppState>,
    Caller(caller): Caller,
    Path(InstancePath { name }): Path<InstancePath>,
    JsonBody(request): JsonBody<CreateForwardRequest>,
) -> Result<(StatusCode, Json<Forward>), ApiError> {
    let forward = app.add_forward(&caller, &name, request).await?;
    Ok((StatusCode::CREATED, Json(forward)))
}

#[utoipa::path(delete, path = "/api/v1/instances/{name}/forwards/{id}", operation_id = "forward.delete",
    extensions(("x-berth-access" = json!(Rule::writes(Who::InstanceOwner)))), tag = "network",
    params(ForwardPath),
    responses((status = 204, description = "Removed"),
              (status = 404, description = "No such instance or forward", body = ErrorBody)))]
pub async fn delete(
    State(app): State<AppState>,
    Caller(caller): Caller,
    Path(ForwardPath { name, id }): Path<ForwardPath>,
) -> Result<StatusCode, ApiError> {
    app.remove_forward(&caller, &name, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
