//! `GET /healthz`, outside `/api/v1` beside `/readyz`: liveness for load balancers and
//! supervisors. No credential, no detail: `200 ok` as long as the process serves requests. It
//! asks nothing of the store or the host, so a slow disk or a missing backend (which `/readyz`
//! reports) never makes a supervisor restart a daemon that is alive.

use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::access::{Rule, Who};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(healthz))
}

#[utoipa::path(get, path = "/healthz", operation_id = "system.health", tag = "system",
    extensions(("x-berth-access" = json!(Rule::reads(Who::Anyone)))),
    responses((status = 200, description = "Alive: the process serves requests", body = String, content_type = "text/plain")))]
pub async fn healthz() -> &'static str {
    "ok"
}
