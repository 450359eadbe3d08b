//! `/api/v1/network`.

use axum::Json;
use axum::extract::State;
use berth_types::api::{ErrorBody, Ipv6UplinkInfo, Ipv6UplinkRequest, NetworkInfo};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::api::access::{Rule, Who};
use crate::api::extract::Caller;
use crate::api::{ApiError, AppState, JsonBody};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get))
        .routes(routes!(set_ipv6))
}

#[utoipa::path(get, path = "/api/v1/network", operation_id = "network.get",
    extensions(("x-berth-access" = json!(Rule::reads(Who::User)))), tag = "network",
    responses((status = 200, description = "The bridge, its subnets and the IPv6 uplink", body = NetworkInfo)))]
pub async fn get(State(app): State<AppState>) -> Result<Json<NetworkInfo>, ApiError> {
    Ok(Json(app.network_info()?))
}

#[utoipa::path(put, path = "/api/v1/network/ipv6", operation_id = "network.ipv6",
    extensions(("x-berth-access" = json!(Rule::writes(Who::Admin)))), tag = "network",
    request_body = Ipv6UplinkRequest,
    responses((status = 200, description = "The uplink, up", body = Ipv6UplinkInfo),
              (status = 400, description = "Bad input, or a mode this host cannot do (the reason is given); nothing changed", body = ErrorBody),
              (status = 503, description = "The uplink could not be brought up; the previous one was put back", body = ErrorBody)))]
pub async fn set_ipv6(
    State(app): State<AppState>,
    Caller(caller): Caller,
    JsonBody(request): JsonBody<Ipv6UplinkRequest>,
) -> Result<Json<Ipv6UplinkInfo>, ApiError> {
    Ok(Json(app.set_ipv6_uplink(&caller, request).await?))
}
