//! `GET /readyz`, outside `/api/v1` as load balancers and supervisors expect it: 200 when
//! berthd can take work, 503 when not, each part ok or why not, and the room left for guests.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use berth_types::capacity::Readiness;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::access::{Rule, Who};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(readyz))
}

#[utoipa::path(get, path = "/readyz", operation_id = "system.ready", tag = "system",
    extensions(("x-berth-access" = json!(Rule::reads(Who::Anyone)))),
    responses((status = 200, description = "Ready: every part works and the host has room for a guest", body = Readiness),
              (status = 503, description = "Not ready: what does not work, or the limit the host reached", body = Readiness)))]
pub async fn readyz(State(app): State<AppState>) -> (StatusCode, Json<Readiness>) {
    let readiness = app.readiness().await;
    let status = if readiness.ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(readiness))
}
