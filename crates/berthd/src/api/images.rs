//! `/api/v1/images[/{alias}]`.

use axum::Json;
use axum::extract::{Extension, Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use berth_types::api::{BuildImageRequest, ErrorBody, ImageInfo, OperationEnvelope};

use super::{ApiError, AppState, JsonBody, accepted};
use crate::app::Principal;

#[utoipa::path(get, path = "/api/v1/images", tag = "images",
    responses((status = 200, description = "Known images and whether they are cached", body = [ImageInfo])))]
pub async fn list(State(app): State<AppState>) -> Result<Json<Vec<ImageInfo>>, ApiError> {
    Ok(Json(app.list_images()?))
}

#[utoipa::path(post, path = "/api/v1/images", tag = "images", request_body = BuildImageRequest,
    responses((status = 202, description = "Build started", body = OperationEnvelope),
              (status = 400, description = "Unknown image", body = ErrorBody)))]
pub async fn build(
    State(app): State<AppState>,
    Extension(caller): Extension<Principal>,
    JsonBody(request): JsonBody<BuildImageRequest>,
) -> Result<Response, ApiError> {
    Ok(accepted(app.build_image(&caller, request)?))
}

#[utoipa::path(delete, path = "/api/v1/images/{alias}", tag = "images",
    params(("alias" = String, Path, description = "Image alias, e.g. debian/12")),
    responses((status = 204, description = "Removed from the cache"),
              (status = 404, description = "Not cached", body = ErrorBody)))]
pub async fn delete(
    State(app): State<AppState>,
    Path(alias): Path<String>,
) -> Result<StatusCode, ApiError> {
    app.delete_image(&alias)?;
    Ok(StatusCode::NO_CONTENT)
}
