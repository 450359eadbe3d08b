//! `POST /api/v1/instances/{name}/password`: set or generate the guest's root password.

use axum::Json;
use axum::extract::{Path, State};
use berth_types::api::{ErrorBody, PasswordRequest, PasswordResponse};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::InstancePath;
use crate::api::access::{Rule, Who};
use crate::api::extract::Caller;
use crate::api::{ApiError, AppState, JsonBody};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(password))
}

#[utoipa::path(post, path = "/api/v1/instances/{name}/password", operation_id = "instance.password", tag = "instances",
    extensions(("x-berth-access" = json!(Rule::writes(Who::InstanceOwner)))),
    params(InstancePath), request_body = PasswordRequest,
    responses((status = 200, description = "Changed; a generated password is returned once", body = PasswordResponse),
              (status = 400, description = "Weak or invalid password", body = ErrorBody),
              (status = 404, description = "No such instance", body = ErrorBody),
              (status = 409, description = "The instance has no root filesystem on this host (a remote or simulated backend)", body = ErrorBody)))]
pub async fn password(
    State(app): State<AppState>,
    Caller(caller): Caller,
    Path(InstancePath { name }): Path<InstancePath>,
    JsonBody(request): JsonBody<PasswordRequest>,
) -> Result<Json<PasswordResponse>, ApiError> {
    Ok(Json(app.set_password(&caller, &name, request).await?))
}
