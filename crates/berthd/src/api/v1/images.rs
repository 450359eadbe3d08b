//! `/api/v1/images[/{alias}]`, and the image servers under `/api/v1/images/remotes`.

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use berth_types::api::{
    BuildImageRequest, ErrorBody, ImageArchQuery, ImageInfo, ImageRemote, ImportImageQuery,
    ImportedImage, OperationEnvelope, RemoteImageInfo,
};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::api::access::{Rule, Who};
use crate::api::binary::Binary;
use crate::api::extract::{Caller, Query, body_reader};
use crate::api::{ApiError, AppState, JsonBody, accepted};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, build))
        .routes(routes!(import))
        .routes(routes!(remotes))
        .routes(routes!(remote_catalogue))
        .routes(routes!(info, delete))
}

#[utoipa::path(get, path = "/api/v1/images", operation_id = "image.list",
    extensions(("x-berth-access" = json!(Rule::reads(Who::User)))), tag = "images",
    responses((status = 200, description = "Known images and whether they are cached", body = [ImageInfo])))]
pub async fn list(State(app): State<AppState>) -> Result<Json<Vec<ImageInfo>>, ApiError> {
    Ok(Json(app.list_images()?))
}

#[utoipa::path(post, path = "/api/v1/images", operation_id = "image.build",
    extensions(("x-berth-access" = json!(Rule::writes(Who::Admin)))), tag = "images", request_body = BuildImageRequest,
    responses((status = 202, description = "Build started", body = OperationEnvelope),
              (status = 400, description = "Unknown image", body = ErrorBody)))]
pub async fn build(
    State(app): State<AppState>,
    Caller(caller): Caller,
    JsonBody(request): JsonBody<BuildImageRequest>,
) -> Result<Response, ApiError> {
    Ok(accepted(app.build_image(&caller, request)?))
}

#[utoipa::path(get, path = "/api/v1/images/{*alias}", operation_id = "image.info",
    extensions(("x-berth-access" = json!(Rule::reads(Who::User)))), tag = "images",
    params(("alias" = String, Path, description = "Image alias, e.g. debian/12"), ImageArchQuery),
    responses((status = 200, description = "The image: build date, size, packages, sources", body = ImageInfo),
              (status = 404, description = "Unknown image", body = ErrorBody)))]
pub async fn info(
    State(app): State<AppState>,
    Path(alias): Path<String>,
    Query(query): Query<ImageArchQuery>,
) -> Result<Json<ImageInfo>, ApiError> {
    Ok(Json(app.image_info(&alias, query.arch.as_deref())?))
}

#[utoipa::path(delete, path = "/api/v1/images/{*alias}", operation_id = "image.delete",
    extensions(("x-berth-access" = json!(Rule::writes(Who::Admin)))), tag = "images",
    params(("alias" = String, Path, description = "Image alias, e.g. debian/12"), ImageArchQuery),
    responses((status = 204, description = "Removed from the cache"),
              (status = 404, description = "Not cached", body = ErrorBody)))]
pub async fn delete(
    State(app): State<AppState>,
    Caller(caller): Caller,
    Path(alias): Path<String>,
    Query(query): Query<ImageArchQuery>,
) -> Result<StatusCode, ApiError> {
    app.delete_image(&caller, &alias, query.arch.as_deref())?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/api/v1/images/import", operation_id = "image.import",
    extensions(("x-berth-access" = json!(Rule::writes(Who::Admin)))), tag = "images", params(ImportImageQuery),
    request_body(content((Binary = "application/x-tar"), (Binary = "application/gzip"), (Binary = "application/octet-stream")),
        description = "An OCI layout or docker save archive (optionally gzip-compressed)"),
    responses((status = 201, description = "Imported; run it with berth run oci:ALIAS", body = ImportedImage),
              (status = 400, description = "Bad alias or not an image archive", body = ErrorBody)))]
pub async fn import(
    State(app): State<AppState>,
    Caller(caller): Caller,
    Query(query): Query<ImportImageQuery>,
    body: Body,
) -> Result<(StatusCode, Json<ImportedImage>), ApiError> {
    let reader = body_reader(body);
    let image = app.import_app_image(&caller, &query.alias, reader).await?;
    Ok((StatusCode::CREATED, Json(image)))
}

#[utoipa::path(get, path = "/api/v1/images/remotes", operation_id = "image.remotes",
    extensions(("x-berth-access" = json!(Rule::reads(Who::User)))), tag = "images",
    responses((status = 200, description = "The image servers of [[images.remotes]]", body = [ImageRemote])))]
pub async fn remotes(State(app): State<AppState>) -> Json<Vec<ImageRemote>> {
    Json(app.image_remotes())
}

#[utoipa::path(get, path = "/api/v1/images/remotes/{name}", operation_id = "image.remote_catalogue",
    extensions(("x-berth-access" = json!(Rule::reads(Who::User)))), tag = "images",
    params(("name" = String, Path, description = "The image server's name, e.g. images")),
    responses((status = 200, description = "What the server offers, read from it now", body = [RemoteImageInfo]),
              (status = 404, description = "No image server of that name", body = ErrorBody),
              (status = 503, description = "The server cannot be read or its index is refused", body = ErrorBody)))]
pub async fn remote_catalogue(
    State(app): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<Vec<RemoteImageInfo>>, ApiError> {
    Ok(Json(app.remote_catalogue(&name).await?))
}
