//! Root's credentials on an existing instance: `POST /api/v1/instances/{name}/password` sets or
//! generates the root password, `PUT /api/v1/instances/{name}/ssh-keys` replaces root's keys.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use berth_types::api::{ErrorBody, PasswordRequest, PasswordResponse, SshKeysRequest};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::InstancePath;
use crate::api::access::{Rule, Who};
use crate::api::extract::Caller;
use crate::api::{ApiError, AppState, JsonBody};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(password))
        .routes(routes!(ssh_keys))
}

#[utoipa::path(post, path = "/api/v1/instances/{name}/password", operation_id = "instance.password", tag = "instances",
    extensions(("x-berth-access" = json!(Rule::writes(Who::InstanceOwner)))),
    params(InstancePath), request_body = PasswordRequest,
    responses((status = 200, description = "Changed; a generated password is returned once", body = PasswordResponse),
              (status = 400, description = "Weak or invalid password", body = ErrorBody),
              (status = 404, description = "No such instance", body = ErrorBody),
              (status = 409, description = "A Proxmox container that is not running", body = ErrorBody),
              (status = 501, description = "Its backend needs configuring first (proxmox: [proxmox.ssh]); the message names what", body = ErrorBody),
              (status = 503, description = "Its backend (or the node's SSH) does not answer, or refused", body = ErrorBody)))]
pub async fn password(
    State(app): State<AppState>,
    Caller(caller): Caller,
    Path(InstancePath { name }): Path<InstancePath>,
    JsonBody(request): JsonBody<PasswordRequest>,
) -> Result<Json<PasswordResponse>, ApiError> {
    Ok(Json(app.set_password(&caller, &name, request).await?))
}

#[utoipa::path(put, path = "/api/v1/instances/{name}/ssh-keys", operation_id = "instance.ssh_keys", tag = "instances",
    extensions(("x-berth-access" = json!(Rule::writes(Who::InstanceOwner)))),
    params(InstancePath), request_body = SshKeysRequest,
    responses((status = 204, description = "Root's authorized_keys replaced"),
              (status = 400, description = "A key is not an OpenSSH public key (the field names which)", body = ErrorBody),
              (status = 404, description = "No such instance", body = ErrorBody),
              (status = 409, description = "A Proxmox container that is not running", body = ErrorBody),
              (status = 501, description = "Its backend needs configuring first (proxmox: [proxmox.ssh]); the message names what", body = ErrorBody),
              (status = 503, description = "Its backend (or the node's SSH) does not answer, or refused", body = ErrorBody)))]
pub async fn ssh_keys(
    State(app): State<AppState>,
    Caller(caller): Caller,
    Path(InstancePath { name }): Path<InstancePath>,
    JsonBody(request): JsonBody<SshKeysRequest>,
) -> Result<StatusCode, ApiError> {
    app.set_ssh_keys(&caller, &name, request).await?;
    Ok(StatusCode::NO_CONTENT)
}
