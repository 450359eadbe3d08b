//! `/api/v1/settings`: defaults for new instances and metrics preferences.

use axum::Json;
use axum::extract::State;
use berth_types::api::ErrorBody;
use berth_types::settings::Settings;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::api::access::{Rule, Who};
use crate::api::extract::Caller;
use crate::api::{ApiError, AppState, JsonBody};

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
    request_body(content = Settings, description = "Replaces every setting; an absent field gets its factory default"),
    responses((status = 200, description = "The settings, saved", body = Settings),
              (status = 400, description = "A bad field (named); nothing changed", body = ErrorBody)))]
pub async fn put(
    State(app): State<AppState>,
    Caller(caller): Caller,
    JsonBody(settings): JsonBody<Settings>,
) -> Result<Json<Settings>, ApiError> {
    Ok(Json(app.put_settings(&caller, settings)?))
}
