//! `/api/v1/system`.

use axum::Json;
use axum::extract::State;
use berth_types::api::SystemInfo;

use super::{ApiError, AppState};

#[utoipa::path(get, path = "/api/v1/system", tag = "system",
    responses((status = 200, description = "Host, storage and backends", body = SystemInfo)))]
pub async fn get(State(app): State<AppState>) -> Result<Json<SystemInfo>, ApiError> {
    Ok(Json(app.system_info().await?))
}
