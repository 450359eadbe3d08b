//! `GET /metrics` (outside `/api/v1`): OpenMetrics text for Prometheus. Who may read it:
//! anyone when `[metrics] public = true`; otherwise root or the admin group on the socket, or
//! an admin's bearer token (Prometheus' `authorization` setting), since it names every
//! instance and owner on the host.

use axum::extract::{Request, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

use super::guard::Transport;
use super::{ApiError, AppState};
use crate::app::AppError;

pub async fn serve(State(app): State<AppState>, request: Request) -> Response {
    let transport = request.extensions().get::<Transport>().copied();
    if let Err(e) = allowed(&app, transport, request.headers()) {
        return ApiError(e).into_response();
    }
    let mut response = app.openmetrics().into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(berth_metrics::openmetrics::CONTENT_TYPE),
    );
    response
}

fn allowed(
    app: &AppState,
    transport: Option<Transport>,
    headers: &axum::http::HeaderMap,
) -> Result<(), AppError> {
    if app.config.metrics.public {
        return Ok(());
    }
    if let Some(Transport::Socket { admitted, uid }) = transport {
        return if admitted {
            Ok(())
        } else {
            Err(AppError::Forbidden(format!(
                "uid {uid} is neither root nor in the berth admin group"
            )))
        };
    }
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or_else(|| {
            AppError::Unauthorized(
                "/metrics needs an admin's API token (Authorization: Bearer), or [metrics] public = true"
                    .into(),
            )
        })?;
    let principal = app.authenticate(bearer)?;
    if !principal.is_admin() {
        return Err(AppError::Forbidden(
            "/metrics shows every instance: only admins may read it".into(),
        ));
    }
    Ok(())
}
