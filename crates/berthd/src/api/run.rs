//! `/api/v1/run`: one ephemeral application container from an imported image.

use axum::Json;
use axum::extract::State;
use berth_types::api::{ErrorBody, ExecResponse, RunRequest};

use super::{ApiError, AppState, JsonBody};

#[utoipa::path(post, path = "/api/v1/run", tag = "images", request_body = RunRequest,
    responses((status = 200, description = "The command ran; its exit code and output", body = ExecResponse),
              (status = 400, description = "Bad input, or the oci backend is not usable here", body = ErrorBody),
              (status = 404, description = "No such imported image", body = ErrorBody)))]
pub async fn run(
    State(app): State<AppState>,
    JsonBody(request): JsonBody<RunRequest>,
) -> Result<Json<ExecResponse>, ApiError> {
    Ok(Json(app.run_app_image(request).await?))
}
