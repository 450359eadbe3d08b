//! `/api/v1/audit`: who did what, when, from where; `/api/v1/audit/purge`: forgetting old entries.

use axum::Json;
use axum::extract::State;
use axum::http::HeaderValue;
use axum::response::{IntoResponse, Response};
use berth_auth::{AuditEntry, AuditFilter};
use berth_types::api::ErrorBody;
use berth_types::purge::{PurgeRequest, PurgeResult};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::api::access::{Rule, Who};
use crate::api::extract::{Caller, JsonBody, Query};
use crate::api::{ApiError, AppState};
use crate::app::AppError;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(purge))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// Only this actor (a username, or `username/token-name`).
    actor: Option<String>,
    /// Entries older than this id (the last id of the previous page).
    before: Option<i64>,
    /// At most this many (default 100, at most 1000).
    limit: Option<u32>,
}

#[utoipa::path(get, path = "/api/v1/audit", operation_id = "audit.list",
    extensions(("x-berth-access" = json!(Rule::reads(Who::User)))), tag = "audit", params(AuditQuery),
    responses((status = 200, description = "Newest first; a user sees their own entries, an admin all", body = [AuditEntry],
        headers(("X-Audit-Dropped" = u64, description = "Entries the log's size caps have dropped, oldest first, ever")))))]
pub async fn list(
    State(app): State<AppState>,
    Caller(principal): Caller,
    Query(query): Query<AuditQuery>,
) -> Result<Response, ApiError> {
    let filter = AuditFilter {
        user_id: None,
        actor: query.actor,
        before: query.before,
        limit: query.limit.unwrap_or(0),
    };
    let entries = app.audit(&principal, filter)?;
    let dropped = app.auth.db().audit_dropped().map_err(AppError::from)?;
    let mut response = Json(entries).into_response();
    response
        .headers_mut()
        .insert("x-audit-dropped", HeaderValue::from(dropped));
    Ok(response)
}

#[utoipa::path(post, path = "/api/v1/audit/purge", operation_id = "audit.purge",
    extensions(("x-berth-access" = json!(Rule::writes(Who::Admin)))), tag = "audit",
    request_body = PurgeRequest,
    responses((status = 200, description = "Entries written before `before` are gone; this purge's own entry is written after, so it stays", body = PurgeResult),
              (status = 400, description = "`before` missing or not an RFC 3339 time", body = ErrorBody),
              (status = 403, description = "Not an admin", body = ErrorBody)))]
pub async fn purge(
    State(app): State<AppState>,
    Caller(caller): Caller,
    JsonBody(request): JsonBody<PurgeRequest>,
) -> Result<Json<PurgeResult>, ApiError> {
    Ok(Json(app.purge_audit(&caller, &request)?))
}
