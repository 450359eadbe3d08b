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

use utoipa_axum::router::OpenApiRouter;

use super::AppState;

/// Every route of `/api/v1`.
pub fn routes() -> OpenApiRouter<AppState> {
    auth::routes()
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
