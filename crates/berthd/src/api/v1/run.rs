//! `/api/v1/run`: one ephemeral application container from an imported image.

use axum::Json;
use axum::extract::State;
use berth_types::api::{ErrorBody, ExecResponse, RunRequest};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::api::access::{Rule, Who};
use crate::api::extract::Caller;
use crate::api::{ApiError, AppState, JsonBody};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(run))
}

#[utoipa::path(post, path = "/api/v1/run", operation_id = "app.run",
    extensions(("x-berth-access" = json!(Rule::writes(Who::Admin)))), tag = "images", request_body = RunRequest,
    responses((status = 200, description = "The command ran; its exit code and output", body = ExecResponse),
              (status = 400, description = "Bad input, or the oci backend is not usable here", body = ErrorBody),
              (status = 404, description = "No such imported image", body = ErrorBody)))]
pub async fn run(
    State(app): State<AppState>,
    Caller(caller): Caller,
    JsonBody(request): JsonBody<RunRequest>,
) -> Result<Json<ExecResponse>, ApiError> {
    Ok(Json(app.run_app_image(&caller, request).await?))
}
