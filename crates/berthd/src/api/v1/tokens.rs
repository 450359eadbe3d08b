//! `/api/v1/tokens[/{id}]`: API tokens for scripts and the CLI.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use berth_auth::ApiToken;
use berth_auth::api::{CreateTokenRequest, CreatedTokenResponse};
use berth_types::api::ErrorBody;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::api::access::{Rule, Who};
use crate::api::extract::Caller;
use crate::api::{ApiError, AppState, JsonBody};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(delete))
}

#[utoipa::path(get, path = "/api/v1/tokens", operation_id = "token.list",
    extensions(("x-berth-access" = json!(Rule::reads(Who::User)))), tag = "tokens",
    responses((status = 200, description = "The caller's tokens (an admin: everyone's), without secrets", body = [ApiToken])))]
pub async fn list(
    State(app): State<AppState>,
    Caller(principal): Caller,
) -> Result<Json<Vec<ApiToken>>, ApiError> {
    Ok(Json(app.list_tokens(&principal)?))
}

#[utoipa::path(post, path = "/api/v1/tokens", operation_id = "token.create",
    extensions(("x-berth-access" = json!(Rule::writes(Who::User)))), tag = "tokens", request_body = CreateTokenRequest,
    responses((status = 201, description = "The token; its secret is shown this once", body = CreatedTokenResponse),
              (status = 400, description = "Bad name or expiry", body = ErrorBody),
              (status = 409, description = "Name taken", body = ErrorBody)))]
pub async fn create(
    State(app): State<AppState>,
    Caller(principal): Caller,
    JsonBody(request): JsonBody<CreateTokenRequest>,
) -> Result<(StatusCode, Json<CreatedTokenResponse>), ApiError> {
    Ok((
        StatusCode::CREATED,
        Json(app.create_token(&principal, request)?),
    ))
}

#[utoipa::path(delete, path = "/api/v1/tokens/{id}", operation_id = "token.delete",
    extensions(("x-berth-access" = json!(Rule::writes(Who::User)))), tag = "tokens",
    params(("id" = String, Path, description = "Token id")),
    responses((status = 204, description = "Revoked"),
              (status = 404, description = "No such token of yours", body = ErrorBody)))]
pub async fn delete(
    State(app): State<AppState>,
    Caller(principal): Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    app.revoke_token(&principal, &id)?;
    Ok(StatusCode::NO_CONTENT)
}
