//! `/api/v1/instances/{name}/backups[/{id}[/export|/restore]]`.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use berth_types::api::{
    Backup, CreateBackupRequest, ErrorBody, OperationEnvelope, RestoreBackupRequest,
};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::InstancePath;
use crate::api::access::{Rule, Who};
use crate::api::binary::Binary;
use crate::api::extract::Caller;
use crate::api::reply::stream;
use crate::api::{ApiError, AppState, JsonBody, accepted};
use crate::app::AppError;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(delete))
        .routes(routes!(export))
        .routes(routes!(restore))
}

/// `{name}` and `{id}` in `/instances/{name}/backups/{id}…`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct BackupPath {
    /// Instance name.
    name: String,
    /// Backup id.
    id: String,
}

#[utoipa::path(get, path = "/api/v1/instances/{name}/backups", operation_id = "backup.list",
    extensions(("x-berth-access" = json!(Rule::reads(Who::InstanceOwner)))), tag = "backups",
    params(InstancePath),
    responses((status = 200, description = "Backups, oldest first", body = [Backup]),
              (status = 404, description = "No such instance", body = ErrorBody)))]
pub async fn list(
    State(app): State<AppState>,
    Caller(caller): Caller,
    Path(InstancePath { name }): Path<InstancePath>,
) -> Result<Json<Vec<Backup>>, ApiError> {
    Ok(Json(app.list_backups(&caller, &name)?))
}

#[utoipa::path(post, path = "/api/v1/instances/{name}/backups", operation_id = "backup.create",
    extensions(("x-berth-access" = json!(Rule::writes(Who::InstanceOwner)))), tag = "backups",
    request_body = Option<CreateBackupRequest>,
    params(InstancePath),
    responses((status = 202, description = "Backup started", body = OperationEnvelope),
              (status = 404, description = "No such instance", body = ErrorBody),
              (status = 409, description = "The instance is busy", body = ErrorBody)))]
pub async fn create(
    State(app): State<AppState>,
    Caller(caller): Caller,
    Path(InstancePath { name }): Path<InstancePath>,
    JsonBody(request): JsonBody<CreateBackupRequest>,
) -> Result<Response, ApiError> {
    Ok(accepted(app.create_backup(&caller, &name, request)?))
}

#[utoipa::path(get, path = "/api/v1/instances/{name}/backups/{id}/export", operation_id = "backup.export",
    extensions(("x-berth-access" = json!(Rule::reads(Who::InstanceOwner)))), tag = "backups",
    params(BackupPath),
    responses((status = 200, description = "The archive", body = Binary, content_type = "application/zstd"),
              (status = 404, description = "No such instance or backup", body = ErrorBody)))]
pub async fn export(
    State(app): State<AppState>,
    Caller(caller): Caller,
    Path(BackupPath { name, id }): Path<BackupPath>,
) -> Result<Response, ApiError> {
    let (backup, path) = app.backup_file(&caller, &name, &id)?;
    let file = tokio::fs::File::open(&path)
        .await
        .map_err(|e| AppError::internal("opening the backup", e))?;
    let attachment = format!("{name}-{id}.tar.zst");
    Ok(stream(
        file,
        "application/zstd",
        backup.size,
        Some(&attachment),
    ))
}

#[utoipa::path(post, path = "/api/v1/instances/{name}/backups/{id}/restore", operation_id = "backup.restore",
    extensions(("x-berth-access" = json!(Rule::writes(Who::InstanceOwner)))), tag = "backups",
    request_body = RestoreBackupRequest,
    params(BackupPath),
    responses((status = 202, description = "The backup is being imported as a new instance (left stopped)", body = OperationEnvelope),
              (status = 404, description = "No such instance or backup", body = ErrorBody),
              (status = 409, description = "The name is taken", body = ErrorBody)))]
pub async fn restore(
    State(app): State<AppState>,
    Caller(caller): Caller,
    Path(BackupPath { name, id }): Path<BackupPath>,
    JsonBody(request): JsonBody<RestoreBackupRequest>,
) -> Result<Response, ApiError> {
    Ok(accepted(
        app.restore_backup(&caller, &name, &id, &request.name)
            .await?,
    ))
}

#[utoipa::path(delete, path = "/api/v1/instances/{name}/backups/{id}", operation_id = "backup.delete",
    extensions(("x-berth-access" = json!(Rule::writes(Who::InstanceOwner)))), tag = "backups",
    params(BackupPath),
    responses((status = 204, description = "Deleted"),
              (status = 404, description = "No such instance or backup", body = ErrorBody)))]
pub async fn delete(
    State(app): State<AppState>,
    Caller(caller): Caller,
    Path(BackupPath { name, id }): Path<BackupPath>,
) -> Result<StatusCode, ApiError> {
    app.delete_backup(&caller, &name, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
