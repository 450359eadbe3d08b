//! The REST API under `/api/v1`. Each route is declared once, on its handler: the handler's
//! `#[utoipa::path]` attribute gives its method, path, parameters, bodies, answers, operation id
//! (the audit log's action) and, as the `x-berth-access` extension, who may call it (see
//! [`access`]). [`v1::routes`] lists each module's handlers with utoipa-axum's `routes!`, which
//! builds the axum router and the OpenAPI description from those same attributes; the guard's
//! table is read from that description. The code tree mirrors the URL tree:
//! `v1/instances/snapshots.rs` serves `/api/v1/instances/{name}/snapshots…`.
//!
//! Handlers are short: parse, call one app method with the caller, answer.

pub mod access;
mod audit_entry;
mod binary;
mod contract;
mod error;
mod extract;
pub mod guard;
mod healthz;
pub mod openapi;
mod openmetrics;
mod readyz;
mod reply;
pub mod session;
pub mod throttle;
mod v1;

use std::sync::Arc;

use axum::Router;
use axum::middleware;
use axum::routing::get;

use crate::app::{App, AppError};

pub use error::ApiError;
pub use extract::JsonBody;
pub use guard::Transport;
pub use reply::{accepted, accepted_with_password};

pub type AppState = Arc<App>;

/// Every route: `/api/v1` (guarded), the web UI and `/metrics`.
pub fn router(app: Arc<App>) -> Router {
    let (v1, doc) = openapi::routes();
    let guarded = guard::GuardState {
        app: app.clone(),
        routes: Arc::new(access::RouteTable::from_openapi(&doc)),
    };
    // The guard runs after routing, for matched routes only: it needs the route's template.
    let v1 = v1
        .route_layer(middleware::from_fn_with_state(guarded, guard::guard))
        .layer(middleware::from_fn(contract::json_errors));
    Router::new()
        .merge(v1)
        .merge(crate::web::router())
        .route("/metrics", get(openmetrics::serve))
        .fallback(not_found)
        .with_state(app)
}

/// The routes of `/api/v1` as the guard sees them, read from the routed description.
pub fn route_table() -> access::RouteTable {
    access::RouteTable::from_openapi(&openapi::routes().1)
}

async fn not_found() -> ApiError {
    ApiError(AppError::NotFound(
        "no such API path; see /api/v1/openapi.json".into(),
    ))
}
