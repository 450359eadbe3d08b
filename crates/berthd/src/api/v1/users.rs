//! `/api/v1/users[/{id}]` (admins) and `/api/v1/users/me/password` (everyone).

use axum::Json;
use axum::extract::{Extension, Path, State};
use axum::http::StatusCode;
use berth_auth::User;
use berth_auth::api::{ChangePasswordRequest, CreateUserRequest, PatchUserRequest};
use berth_types::api::ErrorBody;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::api::access::{Rule, Who};
use crate::api::extract::Caller;
use crate::api::guard::RequestContext;
use crate::api::{ApiError, AppState, JsonBody};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(patch, delete))
        .routes(routes!(change_password))
}

#[utoipa::path(get, path = "/api/v1/users", operation_id = "user.list",
    extensions(("x-berth-access" = json!(Rule::reads(Who::Admin)))), tag = "users",
    responses((status = 200, description = "Every account", body = [User]),
              (status = 403, description = "Not an admin", body = ErrorBody)))]
pub async fn list(
    State(app): State<AppState>,
    Caller(caller): Caller,
) -> Result<Json<Vec<User>>, ApiError> {
    Ok(Json(app.list_users(&caller)?))
}

#[utoipa::path(post, path = "/api/v1/users", operation_id = "user.create",
    extensions(("x-berth-access" = json!(Rule::writes(Who::Admin)))), tag = "users", request_body = CreateUserRequest,
    responses((status = 201, description = "The new account", body = User),
              (status = 400, description = "Bad username, weak password or bad quota", body = ErrorBody),
              (status = 409, description = "Username taken", body = ErrorBody)))]
pub async fn create(
    State(app): State<AppState>,
    Caller(caller): Caller,
    JsonBody(request): JsonBody<CreateUserRequest>,
) -> Result<(StatusCode, Json<User>), ApiError> {
    Ok((
        StatusCode::CREATED,
        Json(app.create_user(&caller, request).await?),
    ))
}

#[utoipa::path(patch, path = "/api/v1/users/{id}", operation_id = "user.update",
    extensions(("x-berth-access" = json!(Rule::writes(Who::Admin)))), tag = "users", request_body = PatchUserRequest,
    params(("id" = String, Path, description = "User id")),
    responses((status = 200, description = "The changed account", body = User),
              (status = 404, description = "No such user", body = ErrorBody),
              (status = 409, description = "The last admin cannot be demoted", body = ErrorBody)))]
pub async fn patch(
    State(app): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<String>,
    JsonBody(request): JsonBody<PatchUserRequest>,
) -> Result<Json<User>, ApiError> {
    Ok(Json(app.patch_user(&caller, &id, request).await?))
}

#[utoipa::path(delete, path = "/api/v1/users/{id}", operation_id = "user.delete",
    extensions(("x-berth-access" = json!(Rule::writes(Who::Admin)))), tag = "users",
    params(("id" = String, Path, description = "User id")),
    responses((status = 204, description = "Deleted with their sessions and tokens"),
              (status = 404, description = "No such user", body = ErrorBody),
              (status = 409, description = "Owns instances, or is the last admin", body = ErrorBody)))]
pub async fn delete(
    State(app): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    app.delete_user(&caller, &id)?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/api/v1/users/me/password", operation_id = "user.password",
    extensions(("x-berth-access" = json!(Rule::writes(Who::User)))), tag = "users", request_body = ChangePasswordRequest,
    responses((status = 204, description = "Changed; the caller's other sessions ended"),
              (status = 400, description = "Weak or over-long password", body = ErrorBody),
              (status = 401, description = "Wrong current password", body = ErrorBody)))]
pub async fn change_password(
    State(app): State<AppState>,
    Caller(principal): Caller,
    Extension(context): Extension<RequestContext>,
    JsonBody(request): JsonBody<ChangePasswordRequest>,
) -> Result<StatusCode, ApiError> {
    app.change_own_password(&principal, request, context.client)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
