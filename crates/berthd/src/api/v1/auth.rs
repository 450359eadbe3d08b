//! `/api/v1/auth/{login,refresh,logout,me,session}`: sessions for people. Scripts use API
//! tokens.

use axum::Json;
use axum::extract::{Extension, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use berth_auth::api::{LoginRequest, Me, RefreshRequest, SessionResponse};
use berth_auth::{IssuedSession, Principal, Via};
use berth_types::api::ErrorBody;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::api::access::{Rule, Who};
use crate::api::extract::Caller;
use crate::api::guard::RequestContext;
use crate::api::session::{REFRESH_COOKIE, SESSION_COOKIE, clear_cookies, cookie, set_cookies};
use crate::api::{ApiError, AppState, JsonBody};
use crate::app::AppError;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(login))
        .routes(routes!(refresh))
        .routes(routes!(logout))
        .routes(routes!(me))
        .routes(routes!(session))
}

#[utoipa::path(post, path = "/api/v1/auth/login", operation_id = "auth.login",
    extensions(("x-berth-access" = json!(Rule::writes(Who::Anyone)))), tag = "auth", request_body = LoginRequest,
    responses((status = 200, description = "A session; also set as HttpOnly cookies", body = SessionResponse),
              (status = 401, description = "Wrong username or password", body = ErrorBody),
              (status = 429, description = "Too many failures; see Retry-After", body = ErrorBody)))]
pub async fn login(
    State(app): State<AppState>,
    Extension(context): Extension<RequestContext>,
    JsonBody(request): JsonBody<LoginRequest>,
) -> Result<Response, ApiError> {
    let session = app
        .login(request.username, request.password, context.client.clone())
        .await?;
    Ok(session_response(&app, &session, &context))
}

#[utoipa::path(post, path = "/api/v1/auth/refresh", operation_id = "auth.refresh",
    extensions(("x-berth-access" = json!(Rule::writes(Who::Anyone)))), tag = "auth", request_body = Option<RefreshRequest>,
    responses((status = 200, description = "New tokens; the refresh token used stops working", body = SessionResponse),
              (status = 401, description = "Unknown, used or expired refresh token", body = ErrorBody)))]
pub async fn refresh(
    State(app): State<AppState>,
    Extension(context): Extension<RequestContext>,
    headers: HeaderMap,
    JsonBody(request): JsonBody<RefreshRequest>,
) -> Result<Response, ApiError> {
    let token = request
        .refresh_token
        .or_else(|| cookie(&headers, REFRESH_COOKIE).map(str::to_owned))
        .ok_or_else(|| AppError::Unauthorized("give refresh_token, or log in again".into()))?;
    let session = app.refresh_session(&token)?;
    Ok(session_response(&app, &session, &context))
}

#[utoipa::path(post, path = "/api/v1/auth/logout", operation_id = "auth.logout",
    extensions(("x-berth-access" = json!(Rule::reads(Who::User)))), tag = "auth",
    responses((status = 204, description = "The session ended; its cookies are cleared")))]
pub async fn logout(
    State(app): State<AppState>,
    Caller(principal): Caller,
    Extension(context): Extension<RequestContext>,
) -> Result<Response, ApiError> {
    app.logout(&principal)?;
    let secure = context.transport.is_some_and(|t| t.is_tls());
    let mut response = StatusCode::NO_CONTENT.into_response();
    for value in clear_cookies(secure) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    Ok(response)
}

#[utoipa::path(get, path = "/api/v1/auth/me", operation_id = "auth.me",
    extensions(("x-berth-access" = json!(Rule::reads(Who::User)))), tag = "auth",
    responses((status = 200, description = "The caller, their quota and usage", body = Me),
              (status = 401, description = "Not logged in", body = ErrorBody)))]
pub async fn me(
    State(app): State<AppState>,
    Caller(principal): Caller,
    Extension(context): Extension<RequestContext>,
) -> Result<Json<Me>, ApiError> {
    Ok(Json(me_of(&app, &principal, &context)?))
}

/// `GET /auth/session`: whether the caller is signed in, without a 401 when not.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct SessionStatus {
    pub signed_in: bool,
    /// Not signed in, but the request carried a session cookie that is no longer valid: a
    /// refresh (`POST /auth/refresh`) may renew it.
    pub expired: bool,
    /// The caller, as `GET /auth/me` shows them, when signed in.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub me: Option<Me>,
}

#[utoipa::path(get, path = "/api/v1/auth/session", operation_id = "auth.session",
    extensions(("x-berth-access" = json!(Rule::reads(Who::Anyone)))), tag = "auth",
    responses((status = 200, description = "Whether the caller is signed in (and as whom); never 401, so a browser can ask before it shows the login form", body = SessionStatus)))]
pub async fn session(
    State(app): State<AppState>,
    principal: Option<Extension<Principal>>,
    Extension(context): Extension<RequestContext>,
    headers: HeaderMap,
) -> Result<Json<SessionStatus>, ApiError> {
    let status = match principal {
        Some(Extension(principal)) => SessionStatus {
            signed_in: true,
            expired: false,
            me: Some(me_of(&app, &principal, &context)?),
        },
        None => SessionStatus {
            signed_in: false,
            expired: cookie(&headers, SESSION_COOKIE).is_some_and(|c| !c.is_empty()),
            me: None,
        },
    };
    Ok(Json(status))
}

/// The caller with their usage, and the CSRF token a browser session needs.
fn me_of(app: &AppState, principal: &Principal, context: &RequestContext) -> Result<Me, ApiError> {
    let mut me = app.me(principal)?;
    if let (true, Via::Session { session_id }) = (context.by_cookie, &principal.via) {
        me.csrf_token = Some(app.csrf.token(*session_id));
    }
    Ok(me)
}

fn session_response(app: &AppState, session: &IssuedSession, context: &RequestContext) -> Response {
    let secure = context.transport.is_some_and(|t| t.is_tls());
    let body = SessionResponse {
        user: session.user.clone(),
        access_token: session.access_token.expose().to_owned(),
        access_expires_at: session.access_expires_at,
        refresh_token: session.refresh_token.expose().to_owned(),
        refresh_expires_at: session.refresh_expires_at,
        csrf_token: app.csrf.token(session.session_id),
    };
    let mut response = Json(body).into_response();
    // For the audit log: the login was this user's.
    response.extensions_mut().insert(session.user.clone());
    for value in set_cookies(session, secure) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    response
}
