//! `/api/v1/system` and `/api/v1/system/metrics`: the host, and its metrics history.

use axum::Json;
use axum::extract::State;
use berth_types::api::{ErrorBody, SystemInfo};
use berth_types::metrics::MetricsHistory;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::instances::metrics::MetricsQuery;
use crate::api::access::{Rule, Who};
use crate::api::extract::{Caller, Query};
use crate::api::{ApiError, AppState};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get))
        .routes(routes!(metrics))
}

#[utoipa::path(get, path = "/api/v1/system", operation_id = "system.get",
    extensions(("x-berth-access" = json!(Rule::reads(Who::User)))), tag = "system",
    responses((status = 200, description = "Host, storage and backends; `host` (load, uptime, pool sizes) for admins only", body = SystemInfo)))]
pub async fn get(
    State(app): State<AppState>,
    Caller(caller): Caller,
) -> Result<Json<SystemInfo>, ApiError> {
    Ok(Json(app.system_info(&caller).await?))
}

#[utoipa::path(get, path = "/api/v1/system/metrics", operation_id = "metrics.system",
    extensions(("x-berth-access" = json!(Rule::reads(Who::Admin)))), tag = "metrics",
    params(MetricsQuery),
    responses((status = 200, description = "Host totals: CPU, memory, storage pool, the instances' traffic, processes", body = MetricsHistory),
              (status = 400, description = "Unknown timeframe or cf", body = ErrorBody),
              (status = 403, description = "Not an admin", body = ErrorBody)))]
pub async fn metrics(
    State(app): State<AppState>,
    Caller(caller): Caller,
    Query(query): Query<MetricsQuery>,
) -> Result<Json<MetricsHistory>, ApiError> {
    Ok(Json(app.system_metrics(&caller, &query.into()).await?))
}
