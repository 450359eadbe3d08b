//! `/api/v1/instances[/{name}[/verb]]`.

use axum::Json;
use axum::extract::{Extension, Path, Query, State};
use axum::response::{IntoResponse, Response};
use berth_types::api::{
    CreateInstanceRequest, ErrorBody, ExecRequest, ExecResponse, ImportQuery, OperationEnvelope,
    PasswordRequest, PasswordResponse, PatchInstanceRequest, PowerRequest,
};
use berth_types::{CacheStatus, Instance};

use super::body::CreateOrImport;
use super::{ApiError, AppState, JsonBody, accepted};
use crate::app::Principal;
use crate::app::instances::PowerAction;

#[utoipa::path(get, path = "/api/v1/instances", tag = "instances",
    responses((status = 200, description = "All instances", body = [Instance],
        headers(("X-Cache-Status" = String, description = "With remote (proxmox) instances: STALE when the backend is unreachable and states are the last known, else MISS or HIT")))))]
pub async fn list(
    State(app): State<AppState>,
    Extension(caller): Extension<Principal>,
) -> Result<Response, ApiError> {
    let instances = app.list_instances(&caller).await?;
    let cache = instances
        .iter()
        .fold(None, |acc, i| CacheStatus::combine(acc, i.cache));
    Ok(with_cache_status(cache, Json(instances)))
}

/// Adds `X-Cache-Status` when a remote backend answered (or could not).
fn with_cache_status(cache: Option<CacheStatus>, body: impl IntoResponse) -> Response {
    let mut response = body.into_response();
    if let Some(cache) = cache {
        response.headers_mut().insert(
            "x-cache-status",
            axum::http::HeaderValue::from_static(cache.header()),
        );
    }
    response
}

#[utoipa::path(post, path = "/api/v1/instances", tag = "instances",
    request_body(content((CreateInstanceRequest = "application/json"), (Vec<u8> = "application/zstd")),
        description = "JSON creates an instance; a backup archive (`application/zstd`) imports one"),
    params(ImportQuery),
    responses((status = 202, description = "Create or import started", body = OperationEnvelope),
              (status = 400, description = "Bad input or a bad archive", body = ErrorBody),
              (status = 409, description = "Name taken", body = ErrorBody)))]
pub async fn create(
    State(app): State<AppState>,
    Extension(caller): Extension<Principal>,
    Query(query): Query<ImportQuery>,
    body: CreateOrImport<CreateInstanceRequest>,
) -> Result<Response, ApiError> {
    match body {
        CreateOrImport::Json(request) => {
            let (operation, password) = app.create_instance(&caller, request).await?;
            Ok(super::accepted_with_password(operation, password))
        }
        CreateOrImport::Archive(body) => {
            let reader = super::files::body_reader(body);
            let operation = app
                .import_instance(&caller, query.name.as_deref(), reader)
                .await?;
            Ok(accepted(operation))
        }
    }
}

#[utoipa::path(get, path = "/api/v1/instances/{name}", tag = "instances",
    params(("name" = String, Path, description = "Instance name")),
    responses((status = 200, description = "The instance", body = Instance,
                  headers(("X-Cache-Status" = String, description = "Remote (proxmox) instances: HIT, MISS, or STALE while the backend is unreachable"))),
              (status = 404, description = "No such instance", body = ErrorBody)))]
pub async fn get(
    State(app): State<AppState>,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let instance = app.get_instance(&name).await?;
    Ok(with_cache_status(instance.cache, Json(instance)))
}

#[utoipa::path(patch, path = "/api/v1/instances/{name}", tag = "instances", request_body = PatchInstanceRequest,
    params(("name" = String, Path, description = "Instance name")),
    responses((status = 200, description = "The changed instance", body = Instance),
              (status = 400, description = "Bad input", body = ErrorBody),
              (status = 404, description = "No such instance", body = ErrorBody)))]
pub async fn patch(
    State(app): State<AppState>,
    Path(name): Path<String>,
    JsonBody(request): JsonBody<PatchInstanceRequest>,
) -> Result<Json<Instance>, ApiError> {
    Ok(Json(app.patch_instance(&name, request).await?))
}

#[utoipa::path(delete, path = "/api/v1/instances/{name}", tag = "instances", request_body = PowerRequest,
    params(("name" = String, Path, description = "Instance name")),
    responses((status = 202, description = "Delete started", body = OperationEnvelope),
              (status = 404, description = "No such instance", body = ErrorBody),
              (status = 409, description = "Running and not forced", body = ErrorBody)))]
pub async fn delete(
    State(app): State<AppState>,
    Path(name): Path<String>,
    JsonBody(request): JsonBody<PowerRequest>,
) -> Result<Response, ApiError> {
    Ok(accepted(app.delete_instance(&name, request).await?))
}

async fn power(
    app: AppState,
    name: String,
    action: PowerAction,
    request: PowerRequest,
) -> Result<Response, ApiError> {
    Ok(accepted(app.power_instance(&name, action, request).await?))
}

macro_rules! power_handler {
    ($fn:ident, $action:expr, $path:literal, $what:literal) => {
        #[utoipa::path(post, path = $path, tag = "instances", request_body = PowerRequest,
            params(("name" = String, Path, description = "Instance name")),
            responses((status = 202, description = $what, body = OperationEnvelope),
                      (status = 404, description = "No such instance", body = ErrorBody),
                      (status = 409, description = "Not possible in the instance's state", body = ErrorBody)))]
        pub async fn $fn(
            State(app): State<AppState>,
            Path(name): Path<String>,
            JsonBody(request): JsonBody<PowerRequest>,
        ) -> Result<Response, ApiError> {
            power(app, name, $action, request).await
        }
    };
}

power_handler!(
    start,
    PowerAction::Start,
    "/api/v1/instances/{name}/start",
    "Start started"
);
power_handler!(
    stop,
    PowerAction::Stop,
    "/api/v1/instances/{name}/stop",
    "Stop started"
);
power_handler!(
    restart,
    PowerAction::Restart,
    "/api/v1/instances/{name}/restart",
    "Restart started"
);
power_handler!(
    suspend,
    PowerAction::Suspend,
    "/api/v1/instances/{name}/suspend",
    "Suspend started"
);
power_handler!(
    resume,
    PowerAction::Resume,
    "/api/v1/instances/{name}/resume",
    "Resume started"
);

#[utoipa::path(post, path = "/api/v1/instances/{name}/exec", tag = "instances", request_body = ExecRequest,
    params(("name" = String, Path, description = "Instance name")),
    responses((status = 200, description = "Exit code and output", body = ExecResponse),
              (status = 404, description = "No such instance", body = ErrorBody),
              (status = 409, description = "Not running", body = ErrorBody)))]
pub async fn exec(
    State(app): State<AppState>,
    Path(name): Path<String>,
    JsonBody(request): JsonBody<ExecRequest>,
) -> Result<Json<ExecResponse>, ApiError> {
    Ok(Json(app.exec_instance(&name, request).await?))
}

#[utoipa::path(post, path = "/api/v1/instances/{name}/password", tag = "instances", request_body = PasswordRequest,
    params(("name" = String, Path, description = "Instance name")),
    responses((status = 200, description = "Changed; a generated password is returned once", body = PasswordResponse),
              (status = 400, description = "Weak or invalid password", body = ErrorBody),
              (status = 404, description = "No such instance", body = ErrorBody)))]
pub async fn password(
    State(app): State<AppState>,
    Path(name): Path<String>,
    JsonBody(request): JsonBody<PasswordRequest>,
) -> Result<Json<PasswordResponse>, ApiError> {
    Ok(Json(app.set_password(&name, request).await?))
}
