//! Rate limits on expensive routes: which route costs what ([`EXPENSIVE`]), checked by the
//! guard after authorisation against the caller's bucket for that class (`[rate_limits]`), and
//! answered 429 with `Retry-After` when it is empty. Every long operation (202) and everything
//! that runs a program in a guest is listed; a test walks the OpenAPI description to keep it so.

use axum::http::Method;
use berth_auth::Principal;

use super::AppState;
use crate::app::AppError;
use crate::config::CallClass;

use CallClass::{Backup, Create, Exec, ImageBuild, Operation};

const I: &str = "/api/v1/instances/{name}";

/// (method, route template, class) of every rate-limited route.
#[rustfmt::skip]
pub const EXPENSIVE: &[(&str, &str, CallClass)] = &[
    ("POST", "/api/v1/instances", Create),
    ("POST", "/api/v1/run", Create),
    ("POST", "/api/v1/images", ImageBuild),
    ("POST", "/api/v1/images/import", ImageBuild),
    ("POST", "/api/v1/instances/{name}/backups", Backup),
    ("POST", "/api/v1/instances/{name}/backups/{id}/restore", Create),
    ("POST", "/api/v1/instances/{name}/exec", Exec),
    ("GET", "/api/v1/instances/{name}/console", Exec),
    ("POST", "/api/v1/instances/{name}/files", Exec),
    ("POST", "/api/v1/instances/{name}/password", Exec),
    ("DELETE", I, Operation),
    ("POST", "/api/v1/instances/{name}/start", Operation),
    ("POST", "/api/v1/instances/{name}/stop", Operation),
    ("POST", "/api/v1/instances/{name}/restart", Operation),
    ("POST", "/api/v1/instances/{name}/suspend", Operation),
    ("POST", "/api/v1/instances/{name}/resume", Operation),
    ("POST", "/api/v1/instances/{name}/snapshots", Operation),
    ("POST", "/api/v1/instances/{name}/snapshots/{snap}/restore", Operation),
];

/// The class of a route, if it is rate-limited.
pub fn class_of(method: &Method, template: &str) -> Option<CallClass> {
    EXPENSIVE
        .iter()
        .find(|(m, path, _)| *m == method.as_str() && *path == template)
        .map(|(_, _, class)| *class)
}

/// Takes one call from the caller's bucket of the route's class; 429 when it is empty.
pub fn check(
    app: &AppState,
    method: &Method,
    template: &str,
    principal: Option<&Principal>,
) -> Result<(), AppError> {
    let (Some(class), Some(principal)) = (class_of(method, template), principal) else {
        return Ok(());
    };
    let rate = app
        .config
        .rate_limits
        .rates(principal.is_admin())
        .rate(class);
    app.auth
        .calls()
        .take(&principal.username, class.noun(), rate)
        .map_err(AppError::RateLimited)
}
