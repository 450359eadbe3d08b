//! The audit entry of one state-changing request: who, what (the route's action and target),
//! the parameters with secrets removed, from where, and the result (`success`, `denied`, or
//! `failure: <message>`).

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
            (response, format!("denied: {}", status.as_u16()))
        } else {
            failure(response).await
        };
        let actor = match principal {
            Some(p) => p.actor(),
            None => match self.params.get("username").and_then(Value::as_str) {
                Some(name) => format!("anonymous ({name})"),
                None => "anonymous".to_owned(),
            },
        };
        self.app.record_audit(&NewAuditEntry {
            actor: &actor,
            user_id: principal.map(|p| p.user_id).filter(|id| !id.is_nil()),
            action: &self.route.action,
            target: &self.target,
            params: &self.params,
            client: &self.client,
            result: &result,
        });
        response
    }
}

/// `failure: <message>` from an error answer, and the answer rebuilt.
async fn failure(response: Response) -> (Response, String) {
    let (parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, MAX_ERROR_BODY).await else {
        return (
            Response::from_parts(parts, Body::empty()),
            "failure".to_owned(),
        );
    };
    let message = serde_json::from_slice::<Value>(&bytes)
        .ok()
        .and_then(|v| v["error"]["message"].as_str().map(str::to_owned))
        .unwrap_or_else(|| parts.status.to_string());
    (
        Response::from_parts(parts, Body::from(bytes)),
        format!("failure: {message}"),
    )
}
