//! `/api/v1/audit`: who did what, when, from where.

use axum::Json;
use axum::extract::State;
use berth_auth::{AuditEntry, AuditFilter};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::api::access::{Rule, Who};
use crate::api::extract::{Caller, Query};
use crate::api::{ApiError, AppState};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list))
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
    responses((status = 200, description = "Newest first; a user sees their own entries, an admin all", body = [AuditEntry])))]
pub async fn list(
    State(app): State<AppState>,
    Caller(principal): Caller,
    Query(query): Query<AuditQuery>,
) -> Result<Json<Vec<AuditEntry>>, ApiError> {
    let filter = AuditFilter {
        user_id: None,
        actor: query.actor,
        before: query.before,
        limit: query.limit.unwrap_or(0),
    };
    Ok(Json(app.audit(&principal, filter)?))
}
