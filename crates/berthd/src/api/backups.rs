//! `/api/v1/instances/{name}/backups[/{id}[/export]]`.

use axum::Json;
use axum::body::Body;
use axum::extract::{Extension, Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use berth_auth::Principal;
use berth_types::api::{
    Backup, CreateBackupRequest, ErrorBody, OperationEnvelope, RestoreBackupRequest,
};
use tokio_util::io::ReaderStream;

use super::{ApiError, AppState, JsonBody, accepted};
use crate::app::AppError;

#[utoipa::path(get, path = "/api/v1/instances/{name}/backups", tag = "backups",
    params(("name" = String, Path, description = "Instance name")),
    responses((status = 200, description = "Backups, oldest first", body = [Backup]),
              (status = 404, description = "No such instance", body = ErrorBody)))]
pub async fn list(
    State(app): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<Vec<Backup>>, ApiError> {
    Ok(Json(app.list_backups(&name)?))
}

#[utoipa::path(post, path = "/api/v1/instances/{name}/backups", tag = "backups",
    request_body = CreateBackupRequest,
    params(("name" = String, Path, description = "Instance name")),
    responses((status = 202, description = "Backup started", body = OperationEnvelope),
              (status = 404, description = "No such instance", body = ErrorBody),
              (status = 409, description = "The instance is busy", body = ErrorBody)))]
pub async fn create(
    State(app): State<AppState>,
    Path(name): Path<String>,
    JsonBody(request): JsonBody<CreateBackupRequest>,
) -> Result<Response, ApiError> {
    Ok(accepted(app.create_backup(&name, request)?))
}

#[utoipa::path(get, path = "/api/v1/instances/{name}/backups/{id}/export", tag = "backups",
    params(("name" = String, Path, description = "Instance name"),
           ("id" = String, Path, description = "Backup id")),
    responses((status = 200, description = "The archive (application/zstd)", content_type = "application/zstd"),
              (status = 404, description = "No such instance or backup", body = ErrorBody)))]
pub async fn export(
    State(app): State<AppState>,
    Path((name, id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let (backup, path) = app.backup_file(&name, &id)?;
    let file = tokio::fs::File::open(&path)
        .await
        .map_err(|e| AppError::internal("opening the backup", e))?;
    let mut response = Body::from_stream(ReaderStream::new(file)).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/zstd"),
    );
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(backup.size));
    if let Ok(disposition) =
        HeaderValue::from_str(&format!("attachment; filename=\"{name}-{id}.tar.zst\""))
    {
        headers.insert(header::CONTENT_DISPOSITION, disposition);
    }
    Ok(response)
}

#[utoipa::path(post, path = "/api/v1/instances/{name}/backups/{id}/restore", tag = "backups",
    request_body = RestoreBackupRequest,
    params(("name" = String, Path, description = "Instance name"),
           ("id" = String, Path, description = "Backup id")),
    responses((status = 202, description = "The backup is being imported as a new instance (left stopped)", body = OperationEnvelope),
              (status = 400, description = "Bad name", body = ErrorBody),
              (status = 404, description = "No such instance or backup", body = ErrorBody),
              (status = 409, description = "The name is taken", body = ErrorBody)))]
pub async fn restore(
    State(app): State<AppState>,
    Extension(caller): Extension<Principal>,
    Path((name, id)): Path<(String, String)>,
    JsonBody(request): JsonBody<RestoreBackupRequest>,
) -> Result<Response, ApiError> {
    Ok(accepted(
        app.restore_backup(&caller, &name, &id, &request.name)
            .await?,
    ))
}

#[utoipa::path(delete, path = "/api/v1/instances/{name}/backups/{id}", tag = "backups",
    params(("name" = String, Path, description = "Instance name"),
           ("id" = String, Path, description = "Backup id")),
    responses((status = 204, description = "Deleted"),
              (status = 404, description = "No such instance or backup", body = ErrorBody)))]
pub async fn delete(
    State(app): State<AppState>,
    Path((name, id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    app.delete_backup(&name, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
