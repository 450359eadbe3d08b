//! `/api/v1/settings`: defaults for new instances and metrics preferences.

use axum::Json;
use axum::extract::State;
use berth_types::api::ErrorBody;
use berth_types::settings::Settings;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::api::access::{Rule, Who};
use crate::api::extract::{Caller, FullJson};
use crate::api::{ApiError, AppState};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get, put))
}

#[utoipa::path(get, path = "/api/v1/settings", operation_id = "settings.get",
    extensions(("x-berth-access" = json!(Rule::reads(Who::User)))), tag = "system",
    responses((status = 200, description = "The current settings", body = Settings)))]
pub async fn get(State(app): State<AppState>) -> Json<Settings> {
    Json(app.settings())
}

#[utoipa::path(put, path = "/api/v1/settings", operation_id = "settings.update",
    extensions(("x-berth-access" = json!(Rule::writes(Who::Admin)))), tag = "system",
    request_body(content = Settings, description = "A full replace: every field must be given (`null` for no default limit); a body that leaves one out is refused, naming it, and nothing changes. Read the current settings with GET, change what you want, send them all back."),
    responses((status = 200, description = "The settings, saved", body = Settings),
              (status = 400, description = "A bad or missing field (named); nothing changed", body = ErrorBody)))]
pub async fn put(
    State(app): State<AppState>,
    Caller(caller): Caller,
    FullJson(settings): FullJson<Settings>,
) -> Result<Json<Settings>, ApiError> {
    Ok(Json(app.put_settings(&caller, settings)?))
}
