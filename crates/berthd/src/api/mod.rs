//! The REST API under `/api/v1`: routing, the error body, and body extraction. Handlers are
//! short: parse, call one app method, answer. The code tree mirrors the URL tree.

mod backups;
mod body;
mod console;
mod files;
mod forwards;
mod images;
mod instances;
mod network;
pub mod openapi;
mod operations;
mod snapshots;
mod system;

use std::sync::Arc;

use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put};
use berth_types::Operation;
use berth_types::api::{ErrorBody, ErrorDetail, OperationEnvelope};

use crate::app::{App, AppError, Caller};

pub use body::JsonBody;

pub type AppState = Arc<App>;

/// Every route of the API. `/api/v1/openapi.json` serves the generated description.
pub fn router(app: Arc<App>) -> Router {
    let v1 = Router::new()
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
        .route("/network", get(network::get))
        .route("/network/ipv6", put(network::set_ipv6))
        .route("/operations", get(operations::list))
        .route(
            "/operations/{id}",
            get(operations::get).delete(operations::cancel),
        )
        .route("/operations/{id}/wait", get(operations::wait))
        .route("/images", get(images::list).post(images::build))
        .route("/images/{*alias}", delete(images::delete))
        .route("/system", get(system::get))
        .route("/openapi.json", get(openapi::serve))
        .fallback(not_found);
    Router::new()
        .nest("/api/v1", v1)
        .fallback(not_found)
        .layer(middleware::from_fn(identify))
        .with_state(app)
}

/// Attaches the caller. Authentication replaces this layer; until then every caller reaching
/// berthd (root on the socket, or localhost over TCP) is the admin.
async fn identify(mut request: Request, next: Next) -> Response {
    request.extensions_mut().insert(Caller::admin());
    next.run(request).await
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
            AppError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
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
        (status, axum::Json(body)).into_response()
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
