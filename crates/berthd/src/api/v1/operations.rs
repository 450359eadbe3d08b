//! `/api/v1/operations[/{id}[/wait]]` and `/api/v1/operations/purge`.

use axum::Json;
use axum::extract::{Path, State};
use berth_types::Operation;
use berth_types::api::ErrorBody;
use berth_types::purge::{PurgeRequest, PurgeResult};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::api::access::{Rule, Who};
use crate::api::extract::{Caller, JsonBody, Query};
use crate::api::{ApiError, AppState};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(get, cancel))
        .routes(routes!(wait))
        .routes(routes!(purge))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct WaitQuery {
    /// Seconds to wait at most (default and maximum 3600).
    timeout: Option<u64>,
}

#[utoipa::path(get, path = "/api/v1/operations", operation_id = "operation.list",
    extensions(("x-berth-access" = json!(Rule::reads(Who::User)))), tag = "operations",
    responses((status = 200, description = "Recent operations, newest first", body = [Operation])))]
pub async fn list(
    State(app): State<AppState>,
    Caller(caller): Caller,
) -> Result<Json<Vec<Operation>>, ApiError> {
    Ok(Json(app.list_operations(&caller)?))
}

#[utoipa::path(get, path = "/api/v1/operations/{id}", operation_id = "operation.get",
    extensions(("x-berth-access" = json!(Rule::reads(Who::OperationOwner)))), tag = "operations",
    params(("id" = String, Path, description = "Operation id")),
    responses((status = 200, description = "The operation", body = Operation),
              (status = 404, description = "No such operation", body = ErrorBody)))]
pub async fn get(
    State(app): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<String>,
) -> Result<Json<Operation>, ApiError> {
    Ok(Json(app.get_operation(&caller, &id)?))
}

#[utoipa::path(get, path = "/api/v1/operations/{id}/wait", operation_id = "operation.wait",
    extensions(("x-berth-access" = json!(Rule::reads(Who::OperationOwner)))), tag = "operations",
    params(("id" = String, Path, description = "Operation id"), WaitQuery),
    responses((status = 200, description = "The operation once ended, or at the timeout", body = Operation),
              (status = 404, description = "No such operation", body = ErrorBody)))]
pub async fn wait(
    State(app): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<String>,
    Query(query): Query<WaitQuery>,
) -> Result<Json<Operation>, ApiError> {
    Ok(Json(app.wait_operation(&caller, &id, query.timeout).await?))
}

#[utoipa::path(delete, path = "/api/v1/operations/{id}", operation_id = "operation.cancel",
    extensions(("x-berth-access" = json!(Rule::writes(Who::OperationOwner)))), tag = "operations",
    params(("id" = String, Path, description = "Operation id")),
    responses((status = 202, description = "Cancellation requested", body = Operation),
              (status = 404, description = "No such operation", body = ErrorBody),
              (status = 409, description = "Ended or not cancellable now", body = ErrorBody)))]
pub async fn cancel(
    State(app): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<String>,
) -> Result<(axum::http::StatusCode, Json<Operation>), ApiError> {
    Ok((
        axum::http::StatusCode::ACCEPTED,
        Json(app.cancel_operation(&caller, &id)?),
    ))
}

#[utoipa::path(post, path = "/api/v1/operations/purge", operation_id = "operation.purge",
    extensions(("x-berth-access" = json!(Rule::writes(Who::Admin)))), tag = "operations",
    request_body = PurgeRequest,
    responses((status = 200, description = "Ended operations last updated before `before` are gone; pending and running ones are kept", body = PurgeResult),
              (status = 400, description = "`before` missing or not an RFC 3339 time", body = ErrorBody),
              (status = 403, description = "Not an admin", body = ErrorBody)))]
pub async fn purge(
    State(app): State<AppState>,
    Caller(caller): Caller,
    JsonBody(request): JsonBody<PurgeRequest>,
) -> Result<Json<PurgeResult>, ApiError> {
    Ok(Json(app.purge_operations(&caller, &request)?))
}
