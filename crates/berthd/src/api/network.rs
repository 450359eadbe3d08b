//! `/api/v1/network`.

use axum::Json;
use axum::extract::{Extension, State};
use berth_types::api::{ErrorBody, Ipv6UplinkInfo, Ipv6UplinkRequest, NetworkInfo};

use super::{ApiError, AppState, JsonBody};
use crate::app::Principal;

#[utoipa::path(get, path = "/api/v1/network", tag = "network",
    responses((status = 200, description = "The bridge, its subnets, the IPv6 uplink, and forwards that shadow a host service", body = NetworkInfo)))]
pub async fn get(
    State(app): State<AppState>,
    Extension(caller): Extension<Principal>,
) -> Result<Json<NetworkInfo>, ApiError> {
    Ok(Json(app.network_info_for(&caller).await?))
}

#[utoipa::path(put, path = "/api/v1/network/ipv6", tag = "network",
    request_body = Ipv6UplinkRequest,
    responses((status = 200, description = "The uplink, up", body = Ipv6UplinkInfo),
              (status = 400, description = "Bad input, or a mode this host cannot do (the reason is given); nothing changed", body = ErrorBody),
              (status = 503, description = "The uplink could not be brought up; the previous one was put back", body = ErrorBody)))]
pub async fn set_ipv6(
    State(app): State<AppState>,
    JsonBody(request): JsonBody<Ipv6UplinkRequest>,
) -> Result<Json<Ipv6UplinkInfo>, ApiError> {
    Ok(Json(app.set_ipv6_uplink(request).await?))
}
