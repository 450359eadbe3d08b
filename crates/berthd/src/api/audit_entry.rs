//! The audit entry of one state-changing request: who, what (the route's action and target),
//! the parameters with secrets removed, from where, and the result (`success`, `accepted`,
//! `denied: <status>: <message>` or `failure: <message>`).
//!
//! Nothing an unauthenticated caller sends is stored beyond a bounded summary: the method and
//! route, the client address and the outcome's status — no body, no path values, no user
//! agent, no message that could echo the input. A login that succeeds is recorded as the user
//! it authenticated. Everything else is capped in size by berth-auth.

use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::http::{StatusCode, header};
use axum::response::Response;
use berth_auth::{ClientInfo, NewAuditEntry, Principal};
use serde_json::{Map, Value};

use super::AppState;
use super::access::Route;

/// Largest JSON body whose fields are copied into the audit log.
const MAX_LOGGED_BODY: u64 = 1 << 20;
/// Largest error body read back for the result's message.
const MAX_ERROR_BODY: usize = 64 << 10;

/// The request's query and JSON body as audit parameters (secrets are redacted when stored).
/// Returns the body bytes when it had to be read, to be put back.
pub async fn request_params(request: &mut Request) -> (Value, Option<Bytes>) {
    let mut params = Map::new();
    if let Some(query) = request.uri().query() {
        for (key, value) in query.split('&').filter_map(|p| p.split_once('=')) {
            if key != "csrf" {
                params.insert(key.to_owned(), Value::String(value.to_owned()));
            }
        }
    }
    let headers = request.headers();
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    let length = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let mut bytes = None;
    match length {
        Some(length) if json && length <= MAX_LOGGED_BODY => {
            let body = std::mem::take(request.body_mut());
            let read = axum::body::to_bytes(body, MAX_LOGGED_BODY as usize)
                .await
                .unwrap_or_default();
            if let Ok(Value::Object(fields)) = serde_json::from_slice::<Value>(&read) {
                params.extend(fields);
            }
            bytes = Some(read);
        }
        Some(length) if length > 0 => {
            params.insert("body_bytes".into(), Value::from(length));
        }
        _ => {}
    }
    (Value::Object(params), bytes)
}

/// Collects one request's audit entry and writes it when the answer is known.
pub struct AuditRecorder<'a> {
    app: &'a AppState,
    route: &'a Route,
    target: String,
    params: Value,
    client: ClientInfo,
}

impl<'a> AuditRecorder<'a> {
    pub fn new(
        app: &'a AppState,
        route: &'a Route,
        target: String,
        params: Value,
        client: &ClientInfo,
    ) -> Self {
        Self {
            app,
            route,
            target,
            params,
            client: client.clone(),
        }
    }

    /// Records the entry (for routes that change something) and hands the response back.
    pub async fn finish(&mut self, principal: Option<&Principal>, response: Response) -> Response {
        if !self.route.rule.is_some_and(|rule| rule.writes) {
            return response;
        }
        let status = response.status();
        let (response, result) = if status == StatusCode::ACCEPTED {
            (response, "accepted".to_owned())
        } else if status.is_success()
            || status.is_redirection()
            // A WebSocket (the console) that was opened.
            || status == StatusCode::SWITCHING_PROTOCOLS
        {
            (response, "success".to_owned())
        } else if matches!(
            status,
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN | StatusCode::TOO_MANY_REQUESTS
        ) {
            // `denied: 403: <why>` for a caller we know (a quota, a flag only admins may set);
            // an anonymous caller's entry keeps the status only (below).
            let (response, message) = error_message(response).await;
            let why = message.map(|m| format!(": {m}")).unwrap_or_default();
            (response, format!("denied: {}{why}", status.as_u16()))
        } else {
            let (response, message) = error_message(response).await;
            let message = message.unwrap_or_else(|| status.to_string());
            (response, format!("failure: {message}"))
        };
        let logged_in = response.extensions().get::<berth_auth::User>().cloned();
        let (actor, user_id) = match (principal, &logged_in) {
            (Some(p), _) => (p.actor(), Some(p.user_id).filter(|id| !id.is_nil())),
            (None, Some(user)) => (user.username.clone(), Some(user.id)),
            (None, None) => {
                let summary = anonymous_summary(self.route, &self.client, status.as_u16());
                self.app.record_audit(&NewAuditEntry {
                    actor: "anonymous",
                    user_id: None,
                    action: &self.route.action,
                    target: "",
                    params: &summary.0,
                    client: &summary.1,
                    result: &summary.2,
                });
                return response;
            }
        };
        self.app.record_audit(&NewAuditEntry {
            actor: &actor,
            user_id,
            action: &self.route.action,
            target: &self.target,
            params: &self.params,
            client: &self.client,
            result: &result,
        });
        response
    }
}

/// What is kept of an unauthenticated request: method, route, address and status only.
fn anonymous_summary(
    route: &Route,
    client: &ClientInfo,
    status: u16,
) -> (Value, ClientInfo, String) {
    let params = serde_json::json!({"method": route.method.as_str(), "path": route.path});
    let client = ClientInfo {
        ip: client.ip.clone(),
        user_agent: None,
    };
    let result = match status {
        200..=399 => "success".to_owned(),
        401 | 403 | 429 => format!("denied: {status}"),
        _ => format!("failure: {status}"),
    };
    (params, client, result)
}

/// The message of an error answer (`error.message`), and the answer rebuilt.
async fn error_message(response: Response) -> (Response, Option<String>) {
    let (parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, MAX_ERROR_BODY).await else {
        return (Response::from_parts(parts, Body::empty()), None);
    };
    let message = serde_json::from_slice::<Value>(&bytes)
        .ok()
        .and_then(|v| v["error"]["message"].as_str().map(str::to_owned));
    (Response::from_parts(parts, Body::from(bytes)), message)
}
