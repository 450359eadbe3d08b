//! `/api/v1/network`.

use axum::Json;
use axum::extract::State;
use berth_types::api::NetworkInfo;

use super::{ApiError, AppState};

#[utoipa::path(get, path = "/api/v1/network", tag = "network",
    responses((status = 200, description = "The bridge, its subnets and the IPv6 uplink", body = NetworkInfo)))]
pub async fn get(State(app): State<AppState>) -> Result<Json<NetworkInfo>, ApiError> {
    Ok(Json(app.network_info()?))
}
