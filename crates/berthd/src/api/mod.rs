//! The REST API under `/api/v1`: routing, the error body, and body extraction. Handlers are
//! short: parse, call one app method, answer. The code tree mirrors the URL tree.

pub mod access;
mod alerts;
mod audit;
mod audit_entry;
mod auth;
mod backups;
mod body;
mod console;
mod events;
mod files;
mod forwards;
pub mod guard;
mod images;
mod instances;
mod metrics;
mod network;
pub mod openapi;
mod openmetrics;
mod operations;
mod run;
pub mod session;
mod settings;
mod snapshots;
mod system;
mod tokens;
mod users;

use std::sync::Arc;

use axum::Router;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, patch, post, put};
use berth_types::Operation;
use berth_types::api::{ErrorBody, ErrorDetail, OperationEnvelope};

use crate::app::{App, AppError};

pub use body::JsonBody;
pub use guard::Transport;

pub type AppState = Arc<App>;

/// Every route of the API. `/api/v1/openapi.json` serves the generated description.
pub fn router(app: Arc<App>) -> Router {
    let v1 = Router::new()
        .route("/auth/login", post(auth::login))
        .route("/auth/refresh", post(auth::refresh))
        .route("/auth/logout", post(auth::logout))
        .route("/auth/me", get(auth::me))
        .route("/auth/session", get(auth::session))
        .route("/users", get(users::list).post(users::create))
        .route("/users/{id}", patch(users::patch).delete(users::delete))
        .route("/users/me/password", post(users::change_password))
        .route("/tokens", get(tokens::list).post(tokens::create))
        .route("/tokens/{id}", delete(tokens::delete))
        .route("/audit", get(audit::list))
        .route("/instances", get(instances::list).post(instances::create))
        .route(
            "/instances/{name}",
            get(instances::get)
                .patch(instances::patch)
                .delete(instances::delete),
        )
        .route("/instances/{name}/start", post(instances::start))
        .route("/instances/{name}/stop", post(instances::stop))
        .route("/instances/{name}/restart", post(instances::restart))
        .route("/instances/{name}/suspend", post(instances::suspend))
        .route("/instances/{name}/resume", post(instances::resume))
        .route("/instances/{name}/exec", post(instances::exec))
        .route("/instances/{name}/password", post(instances::password))
        .route("/instances/{name}/console", get(console::console))
        .route(
            "/instances/{name}/forwards",
            get(forwards::list).post(forwards::create),
        )
        .route("/instances/{name}/forwards/{id}", delete(forwards::delete))
        .route(
            "/instances/{name}/snapshots",
            get(snapshots::list).post(snapshots::create),
        )
        .route(
            "/instances/{name}/snapshots/{snap}",
            delete(snapshots::delete),
        )
        .route(
            "/instances/{name}/snapshots/{snap}/restore",
            post(snapshots::restore),
        )
        .route(
            "/instances/{name}/files",
            get(files::pull).post(files::push),
        )
        .route(
            "/instances/{name}/backups",
            get(backups::list).post(backups::create),
        )
        .route("/instances/{name}/backups/{id}", delete(backups::delete))
        .route(
            "/instances/{name}/backups/{id}/export",
            get(backups::export),
        )
        .route(
            "/instances/{name}/backups/{id}/restore",
            post(backups::restore),
        )
        .route("/network", get(network::get))
        .route("/network/ipv6", put(network::set_ipv6))
        .route("/operations", get(operations::list))
        .route(
            "/operations/{id}",
            get(operations::get).delete(operations::cancel),
        )
        .route("/operations/{id}/wait", get(operations::wait))
        .route("/images", get(images::list).post(images::build))
        .route("/images/import", post(images::import))
        .route("/images/{*alias}", delete(images::delete))
        .route("/events", get(events::events))
        .route("/run", post(run::run))
        .route("/system", get(system::get))
        .route("/settings", get(settings::get).put(settings::put))
        .route("/system/metrics", get(metrics::system))
        .route("/instances/{name}/metrics", get(metrics::instance))
        .route("/alerts/rules", get(alerts::list).post(alerts::create))
        .route(
            "/alerts/rules/{id}",
            patch(alerts::patch).delete(alerts::delete),
        )
        .route("/alerts/events", get(alerts::events))
        .route("/alerts/test", post(alerts::test))
        .route("/openapi.json", get(openapi::serve))
        // Runs after routing, for matched routes only: it needs the route's template.
        .route_layer(middleware::from_fn_with_state(app.clone(), guard::guard))
        .fallback(not_found);
    Router::new()
        .nest("/api/v1", v1)
        .merge(crate::web::router())
        .route("/metrics", get(openmetrics::serve))
        .fallback(not_found)
        .with_state(app)
}

async fn not_found() -> ApiError {
    ApiError(AppError::NotFound(
        "no such API path; see /api/v1/openapi.json".into(),
    ))
}

/// An app error as an HTTP answer: `{"error": {"code", "message", "field"}}`.
#[derive(Debug)]
pub struct ApiError(pub AppError);

impl From<AppError> for ApiError {
    fn from(err: AppError) -> Self {
        Self(err)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = match &self.0 {
            AppError::NotFound(_) => StatusCode::NOT_FOUND,
            AppError::Invalid(_) => StatusCode::BAD_REQUEST,
            AppError::Conflict(_) => StatusCode::CONFLICT,
            AppError::Unavailable(_) | AppError::BackendUnavailable(_) => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            AppError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            AppError::Forbidden(_) | AppError::QuotaExceeded { .. } => StatusCode::FORBIDDEN,
            AppError::RateLimited(_) => StatusCode::TOO_MANY_REQUESTS,
        };
        if status == StatusCode::INTERNAL_SERVER_ERROR {
            tracing::error!(error = %self.0, "internal error");
        }
        let message = match &self.0 {
            AppError::Invalid(e) => e.message.clone(),
            other => other.to_string(),
        };
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.0.code().to_owned(),
                message,
                field: self.0.field().map(str::to_owned),
            },
        };
        let mut response = (status, axum::Json(body)).into_response();
        if let AppError::RateLimited(retry) = &self.0 {
            let seconds = retry.0.as_secs().max(1).to_string();
            if let Ok(value) = HeaderValue::from_str(&seconds) {
                response.headers_mut().insert(header::RETRY_AFTER, value);
            }
        }
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"berth\""),
            );
        }
        response
    }
}

/// `202 Accepted` with the operation and its `Location`.
pub fn accepted(operation: Operation) -> Response {
    accepted_with_password(operation, None)
}

/// `202 Accepted`, also carrying a generated root password (shown this once).
pub fn accepted_with_password(operation: Operation, password: Option<String>) -> Response {
    let location = format!("/api/v1/operations/{}", operation.id);
    let mut response = (
        StatusCode::ACCEPTED,
        axum::Json(OperationEnvelope {
            operation,
            password,
        }),
    )
        .into_response();
    if let Ok(value) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response
}
