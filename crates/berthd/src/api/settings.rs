//! `/api/v1/settings`: defaults for new instances and metrics preferences.

use axum::Json;
use axum::extract::State;
use berth_types::api::ErrorBody;
use berth_types::settings::Settings;

use super::{ApiError, AppState, JsonBody};

#[utoipa::path(get, path = "/api/v1/settings", tag = "system",
    responses((status = 200, description = "The current settings", body = Settings)))]
pub async fn get(State(app): State<AppState>) -> Json<Settings> {
    Json(app.settings())
}

#[utoipa::path(put, path = "/api/v1/settings", tag = "system",
    request_body(content = Settings, description = "Replaces every setting; an absent field gets its factory default"),
    responses((status = 200, description = "The settings, saved", body = Settings),
              (status = 400, description = "A bad field (named); nothing changed", body = ErrorBody)))]
pub async fn put(
    State(app): State<AppState>,
    JsonBody(settings): JsonBody<Settings>,
) -> Result<Json<Settings>, ApiError> {
    Ok(Json(app.put_settings(settings)?))
}
