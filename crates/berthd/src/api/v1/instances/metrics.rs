//! `/api/v1/instances/{name}/metrics`: history from the rollup that answers the timeframe.

use axum::Json;
use axum::extract::{Path, State};
use berth_types::api::ErrorBody;
use berth_types::metrics::MetricsHistory;
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::InstancePath;
use crate::api::access::{Rule, Who};
use crate::api::extract::{Caller, Query};
use crate::api::{ApiError, AppState};
use crate::app::metrics::HistoryQuery;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(instance))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MetricsQuery {
    /// `hour` (10 s points, the default), `day` (1 min), `week` or `month` (30 min), `year`
    /// (6 h) or `decade` (1 week).
    #[param(value_type = Option<berth_types::metrics::Timeframe>)]
    timeframe: Option<String>,
    /// `avg` (default) or `max` of each bucket.
    #[param(value_type = Option<berth_types::metrics::Cf>)]
    cf: Option<String>,
}

impl From<MetricsQuery> for HistoryQuery {
    fn from(q: MetricsQuery) -> Self {
        HistoryQuery {
            timeframe: q.timeframe,
            cf: q.cf,
        }
    }
}

#[utoipa::path(get, path = "/api/v1/instances/{name}/metrics", operation_id = "metrics.instance",
    extensions(("x-berth-access" = json!(Rule::reads(Who::InstanceOwner)))), tag = "metrics",
    params(InstancePath, MetricsQuery),
    responses((status = 200, description = "One point per bucket, oldest first", body = MetricsHistory),
              (status = 400, description = "Unknown timeframe or cf", body = ErrorBody),
              (status = 404, description = "No such instance", body = ErrorBody)))]
pub async fn instance(
    State(app): State<AppState>,
    Caller(caller): Caller,
    Path(InstancePath { name }): Path<InstancePath>,
    Query(query): Query<MetricsQuery>,
) -> Result<Json<MetricsHistory>, ApiError> {
    Ok(Json(
        app.instance_metrics(&caller, &name, &query.into()).await?,
    ))
}
