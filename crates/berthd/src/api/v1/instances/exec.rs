//! `POST /api/v1/instances/{name}/exec`: run a command, answer its exit code and output.

use axum::Json;
use axum::extract::{Path, State};
use berth_types::api::{ErrorBody, ExecRequest, ExecResponse};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::InstancePath;
use crate::api::access::{Rule, Who};
use crate::api::extract::Caller;
use crate::api::{ApiError, AppState, JsonBody};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(exec))
}

#[utoipa::path(post, path = "/api/v1/instances/{name}/exec", operation_id = "instance.exec", tag = "instances",
    extensions(("x-berth-access" = json!(Rule::writes(Who::InstanceOwner)))),
    params(InstancePath), request_body = ExecRequest,
    responses((status = 200, description = "Exit code and output", body = ExecResponse),
              (status = 404, description = "No such instance", body = ErrorBody),
              (status = 409, description = "Not running", body = ErrorBody)))]
pub async fn exec(
    State(app): State<AppState>,
    Caller(caller): Caller,
    Path(InstancePath { name }): Path<InstancePath>,
    JsonBody(request): JsonBody<ExecRequest>,
) -> Result<Json<ExecResponse>, ApiError> {
    Ok(Json(app.exec_instance(&caller, &name, request).await?))
}
