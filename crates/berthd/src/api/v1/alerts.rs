//! `/api/v1/alerts/rules[/{id}]`, `/api/v1/alerts/events` and `/api/v1/alerts/test`.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use berth_types::api::ErrorBody;
use berth_types::metrics::{
    AlertEvent, AlertRule, AlertRuleCreate, AlertRulePatch, AlertTestRequest, AlertTestResult,
};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::api::access::{Rule, Who};
use crate::api::extract::{Caller, Query};
use crate::api::{ApiError, AppState, JsonBody};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(patch, delete))
        .routes(routes!(events))
        .routes(routes!(test))
}

#[utoipa::path(get, path = "/api/v1/alerts/rules", operation_id = "alert.rule.list",
    extensions(("x-berth-access" = json!(Rule::reads(Who::User)))), tag = "alerts",
    responses((status = 200, description = "The caller's rules (every rule for an admin)", body = [AlertRule])))]
pub async fn list(
    State(app): State<AppState>,
    Caller(caller): Caller,
) -> Result<Json<Vec<AlertRule>>, ApiError> {
    Ok(Json(app.alert_rules(&caller)?))
}

#[utoipa::path(post, path = "/api/v1/alerts/rules", operation_id = "alert.rule.create",
    extensions(("x-berth-access" = json!(Rule::writes(Who::User)))), tag = "alerts", request_body = AlertRuleCreate,
    responses((status = 201, description = "The new rule", body = AlertRule),
              (status = 400, description = "Unknown metric, threshold out of range, bad scope or webhook", body = ErrorBody)))]
pub async fn create(
    State(app): State<AppState>,
    Caller(caller): Caller,
    JsonBody(body): JsonBody<AlertRuleCreate>,
) -> Result<(StatusCode, Json<AlertRule>), ApiError> {
    Ok((
        StatusCode::CREATED,
        Json(app.create_alert_rule(&caller, &body)?),
    ))
}

#[utoipa::path(patch, path = "/api/v1/alerts/rules/{id}", operation_id = "alert.rule.update",
    extensions(("x-berth-access" = json!(Rule::writes(Who::User)))), tag = "alerts", request_body = AlertRulePatch,
    params(("id" = String, Path, description = "Rule id")),
    responses((status = 200, description = "The changed rule", body = AlertRule),
              (status = 400, description = "A bad field; nothing changed", body = ErrorBody),
              (status = 404, description = "No such rule of yours", body = ErrorBody)))]
pub async fn patch(
    State(app): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<AlertRulePatch>,
) -> Result<Json<AlertRule>, ApiError> {
    Ok(Json(app.patch_alert_rule(&caller, &id, &body)?))
}

#[utoipa::path(delete, path = "/api/v1/alerts/rules/{id}", operation_id = "alert.rule.delete",
    extensions(("x-berth-access" = json!(Rule::writes(Who::User)))), tag = "alerts",
    params(("id" = String, Path, description = "Rule id")),
    responses((status = 204, description = "Deleted"),
              (status = 404, description = "No such rule of yours", body = ErrorBody)))]
pub async fn delete(
    State(app): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    app.delete_alert_rule(&caller, &id)?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EventsQuery {
    /// At most this many, newest first (default 100, at most 1000).
    limit: Option<u32>,
}

#[utoipa::path(get, path = "/api/v1/alerts/events", operation_id = "alert.event.list",
    extensions(("x-berth-access" = json!(Rule::reads(Who::User)))), tag = "alerts", params(EventsQuery),
    responses((status = 200, description = "Firing and resolved events of the caller's rules, newest first", body = [AlertEvent])))]
pub async fn events(
    State(app): State<AppState>,
    Caller(caller): Caller,
    Query(query): Query<EventsQuery>,
) -> Result<Json<Vec<AlertEvent>>, ApiError> {
    Ok(Json(app.alert_events(&caller, query.limit)?))
}

#[utoipa::path(post, path = "/api/v1/alerts/test", operation_id = "alert.test",
    extensions(("x-berth-access" = json!(Rule::writes(Who::Admin)))), tag = "alerts", request_body = AlertTestRequest,
    responses((status = 200, description = "Whether the SMTP server took the message, and its error if not", body = AlertTestResult),
              (status = 400, description = "Bad address, or no [alerts.smtp] configured", body = ErrorBody),
              (status = 403, description = "Not an admin", body = ErrorBody)))]
pub async fn test(
    State(app): State<AppState>,
    Caller(caller): Caller,
    JsonBody(body): JsonBody<AlertTestRequest>,
) -> Result<Json<AlertTestResult>, ApiError> {
    Ok(Json(app.send_test_email(&caller, &body.email).await?))
}
