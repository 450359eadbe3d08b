//! The guard every `/api/v1` route passes: who is calling (unix-socket peer, bearer token or
//! session cookie), whether they may (the rule the route's handler declared, ownership,
//! read-only tokens, CSRF for cookies), and the audit entry for anything that changes state.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{MatchedPath, RawPathParams, Request, State};
use axum::http::{HeaderMap, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use berth_auth::{ClientInfo, Principal, Via};

use super::access::{RouteTable, Rule, Who};
use super::audit_entry::{AuditRecorder, request_params};
use super::contract;
use super::session::{CSRF_HEADER, SESSION_COOKIE, cookie};
use super::{ApiError, AppState};
use crate::app::access::{self, Want};
use crate::app::{AppError, events};

/// How a request reached berthd; the server attaches it to every request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// The unix socket, with the peer's credentials.
    Socket { uid: u32, admitted: bool },
    /// TCP, plain (loopback) or TLS.
    Tcp { peer: SocketAddr, tls: bool },
}

impl Transport {
    pub fn is_tls(self) -> bool {
        matches!(self, Transport::Tcp { tls: true, .. })
    }
}

/// What the guard learned, for handlers that need it (login, me, cookies).
#[derive(Debug, Clone)]
pub struct RequestContext {
    pub client: ClientInfo,
    pub transport: Option<Transport>,
    /// Authenticated by the session cookie (a browser), not a header.
    pub by_cookie: bool,
}

/// What the guard needs: the app, and the rules of every route.
#[derive(Clone)]
pub struct GuardState {
    pub app: AppState,
    pub routes: Arc<RouteTable>,
}

pub async fn guard(
    State(GuardState { app, routes }): State<GuardState>,
    matched: MatchedPath,
    params: RawPathParams,
    mut request: Request,
    next: Next,
) -> Response {
    // HEAD is answered by the GET handler, under GET's rule.
    let method = match *request.method() {
        Method::HEAD => Method::GET,
        ref other => other.clone(),
    };
    let Some(route) = routes.get(&method, matched.as_str()) else {
        // No operation of this method on this path: the router answers 405 with `Allow`.
        return next.run(request).await;
    };
    let Some(rule) = route.rule else {
        tracing::error!(method = %request.method(), path = matched.as_str(), "route without an access rule");
        return ApiError(AppError::Internal("this route has no access rule".into()))
            .into_response();
    };
    let transport = request.extensions().get::<Transport>().copied();
    let context = RequestContext {
        client: client_info(transport, request.headers()),
        transport,
        by_cookie: false,
    };
    let path_params: Vec<(String, String)> = params
        .iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    let target = target_of(&path_params);
    let (request_params, body) = if rule.writes {
        request_params(&mut request).await
    } else {
        (serde_json::Value::Null, None)
    };
    if let Some(body) = body {
        *request.body_mut() = Body::from(body);
    }
    let mut audit = AuditRecorder::new(&app, route, target, request_params, &context.client);

    let (principal, context) = match identify(&app, transport, &request, context.clone()) {
        Ok(found) => found,
        // A stale cookie or token must not stop anyone from logging in again.
        Err(_) if rule.who == Who::Anyone => (None, context),
        Err(e) => return audit.finish(None, ApiError(e).into_response()).await,
    };
    if let Err(e) = check(
        &app,
        &rule,
        principal.as_ref(),
        &context,
        &request,
        &path_params,
    ) {
        return audit
            .finish(principal.as_ref(), ApiError(e).into_response())
            .await;
    }
    if let Some(refused) = contract::wrong_body_type(route, &request) {
        return audit.finish(principal.as_ref(), refused).await;
    }
    request.extensions_mut().insert(context);
    if let Some(principal) = &principal {
        request.extensions_mut().insert(principal.clone());
    }
    let response = match &principal {
        Some(principal) => events::acting_as(principal.actor(), next.run(request)).await,
        None => next.run(request).await,
    };
    audit.finish(principal.as_ref(), response).await
}

/// The caller: root or the admin group on the socket; else a bearer credential; else the
/// session cookie; else anonymous (`None`).
fn identify(
    app: &AppState,
    transport: Option<Transport>,
    request: &Request,
    mut context: RequestContext,
) -> Result<(Option<Principal>, RequestContext), AppError> {
    if let Some(Transport::Socket { uid, admitted }) = transport {
        if !admitted {
            return Err(AppError::Forbidden(format!(
                "uid {uid} is neither root nor in the berth admin group; use a token over HTTPS"
            )));
        }
        return Ok((Some(app.socket_principal()?), context));
    }
    let headers = request.headers();
    if let Some(value) = headers.get(header::AUTHORIZATION) {
        let bearer = value
            .to_str()
            .ok()
            .and_then(|v| v.strip_prefix("Bearer "))
            .ok_or_else(|| {
                AppError::Unauthorized("the Authorization header must be `Bearer <token>`".into())
            })?;
        return Ok((Some(app.authenticate(bearer)?), context));
    }
    if let Some(token) = cookie(headers, SESSION_COOKIE).filter(|t| !t.is_empty()) {
        context.by_cookie = true;
        return Ok((Some(app.authenticate(token)?), context));
    }
    Ok((None, context))
}

/// Whether this caller may make this request.
fn check(
    app: &AppState,
    rule: &Rule,
    principal: Option<&Principal>,
    context: &RequestContext,
    request: &Request,
    params: &[(String, String)],
) -> Result<(), AppError> {
    if rule.who == Who::Anyone {
        return Ok(());
    }
    let principal = principal.ok_or_else(|| {
        AppError::Unauthorized(
            "log in first: send `Authorization: Bearer <token>` (an API token, or the access token from POST /api/v1/auth/login)"
                .into(),
        )
    })?;
    if context.by_cookie {
        check_browser_request(app, rule, principal, request)?;
    }
    let param = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .unwrap_or_default()
    };
    let want = if rule.writes { Want::Write } else { Want::Read };
    // The same checks the app makes in each method, made early (before a body is parsed).
    match rule.who {
        Who::Anyone => Ok(()),
        Who::User => access::own(principal, want),
        Who::Admin => access::admin(principal, want),
        Who::InstanceOwner => app.authorize_instance(principal, param("name"), want),
        Who::OperationOwner => app.authorize_operation(principal, param("id"), want),
    }
}

/// A cookie-carried session must prove the page is ours: state changes (and a WebSocket that
/// can change things, like a console) carry the CSRF token, any request announcing another
/// origin is refused, and a WebSocket must announce its origin — browsers always do, and
/// cookies ride along on cross-site WebSocket handshakes (cross-site WebSocket hijacking).
fn check_browser_request(
    app: &AppState,
    rule: &Rule,
    principal: &Principal,
    request: &Request,
) -> Result<(), AppError> {
    let headers = request.headers();
    let websocket = is_websocket(headers);
    if websocket && !headers.contains_key(header::ORIGIN) {
        return Err(AppError::Forbidden(
            "a WebSocket authenticated by the session cookie must carry an Origin header".into(),
        ));
    }
    if let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) {
        let host = headers
            .get(header::HOST)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        let origin_host = origin.split_once("://").map(|(_, h)| h).unwrap_or(origin);
        if origin_host != host {
            return Err(AppError::Forbidden(format!(
                "cross-origin request from {origin} refused"
            )));
        }
    }
    let safe = matches!(*request.method(), Method::GET | Method::HEAD);
    if safe && !(websocket && rule.writes) {
        return Ok(());
    }
    let Via::Session { session_id } = principal.via else {
        return Ok(());
    };
    let presented = headers
        .get(CSRF_HEADER)
        .and_then(|v| v.to_str().ok())
        .or_else(|| websocket_csrf(request));
    match presented {
        Some(token) if app.csrf.verify(session_id, token) => Ok(()),
        _ => Err(AppError::Forbidden(
            "missing or wrong X-CSRF-Token header (GET /api/v1/auth/me gives the token)".into(),
        )),
    }
}

fn is_websocket(headers: &HeaderMap) -> bool {
    headers
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"))
}

/// Browsers cannot set headers on a WebSocket: the token may come as `?csrf=`.
fn websocket_csrf(request: &Request) -> Option<&str> {
    request
        .uri()
        .query()?
        .split('&')
        .find_map(|pair| pair.strip_prefix("csrf="))
}

fn client_info(transport: Option<Transport>, headers: &HeaderMap) -> ClientInfo {
    ClientInfo {
        ip: match transport {
            Some(Transport::Tcp { peer, .. }) => Some(peer.ip().to_string()),
            Some(Transport::Socket { .. }) => Some("unix".into()),
            None => None,
        },
        user_agent: headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.chars().take(256).collect()),
    }
}

/// The audit target: the instance name, else the first path parameter.
fn target_of(params: &[(String, String)]) -> String {
    params
        .iter()
        .find(|(k, _)| k == "name")
        .or_else(|| params.first())
        .map(|(_, v)| v.clone())
        .unwrap_or_default()
}
