//! `/api/v1`: one module per resource, as the URL tree goes. Each module's `routes()` lists its
//! handlers; adding an endpoint is writing its handler and naming it there.

mod alerts;
mod audit;
mod auth;
mod events;
mod images;
mod instances;
mod network;
mod operations;
mod run;
mod settings;
mod system;
mod tokens;
mod users;

use axum::Json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::access::{Rule, Who};

/// Every route of `/api/v1`.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(openapi))
        .merge(auth::routes())
        .merge(users::routes())
        .merge(tokens::routes())
        .merge(audit::routes())
        .merge(instances::routes())
        .merge(network::routes())
        .merge(operations::routes())
        .merge(images::routes())
        .merge(events::routes())
        .merge(run::routes())
        .merge(system::routes())
        .merge(settings::routes())
        .merge(alerts::routes())
}

#[utoipa::path(get, path = "/api/v1/openapi.json", operation_id = "openapi", tag = "system",
    extensions(("x-berth-access" = json!(Rule::reads(Who::Anyone)))),
    responses((status = 200, description = "This description", content_type = "application/json")))]
async fn openapi() -> Json<&'static utoipa::openapi::OpenApi> {
    Json(super::openapi::document())
}
