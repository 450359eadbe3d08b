//! The HTTP contract every `/api/v1` route keeps, by class rather than handler by handler: a
//! body must come in a media type its operation declares (415 otherwise), and every error is
//! the JSON error body, including those the framework answers itself (405 with `Allow` for an
//! undeclared method, a failed WebSocket handshake, an unreadable path, a handler's panic).

use std::panic::AssertUnwindSafe;

use axum::body::HttpBody;
use axum::extract::Request;
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;
use futures_util::FutureExt;

use super::access::Route;
use super::error::error_response;

/// Longest framework error text copied into the error body.
const MAX_TEXT: usize = 1024;

/// A 415 answer unless the request's body (when it has one) is of a type `route` declares.
pub fn wrong_body_type(route: &Route, request: &Request) -> Option<Response> {
    if route.body_types.is_empty() || request.body().size_hint().exact() == Some(0) {
        return None;
    }
    let given = media_type(request.headers());
    if given
        .as_deref()
        .is_some_and(|t| route.body_types.iter().any(|d| d == t))
    {
        return None;
    }
    let message = format!(
        "the body's Content-Type is {}; this operation takes {}",
        given.as_deref().unwrap_or("missing"),
        route.body_types.join(" or ")
    );
    Some(error_response(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
        message,
        Some("Content-Type".into()),
    ))
}

/// The media type without parameters, lowercased (`application/json; charset=utf-8` →
/// `application/json`).
fn media_type(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::CONTENT_TYPE)?.to_str().ok()?;
    let essence = value.split(';').next()?.trim().to_ascii_lowercase();
    Some(essence).filter(|t| !t.is_empty())
}

/// Rewrites an error the framework answered in plain text (or with no body) as the JSON error
/// body; a 405 names the methods the path answers.
pub async fn json_errors(request: Request, next: Next) -> Response {
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    // A handler that panics answers 500 with the error body rather than dropping the
    // connection without a word.
    let response = match AssertUnwindSafe(next.run(request)).catch_unwind().await {
        Ok(response) => response,
        Err(_) => {
            tracing::error!(%method, path, "a handler panicked");
            return error_response(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "berthd failed on this request (a bug: see its log)".into(),
                None,
            );
        }
    };
    let status = response.status();
    let is_json = media_type(response.headers()).as_deref() == Some("application/json");
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return response;
    }
    let (parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, MAX_TEXT * 4)
        .await
        .map(|b| String::from_utf8_lossy(&b).chars().take(MAX_TEXT).collect())
        .unwrap_or_default();
    let (code, message) = match status {
        StatusCode::METHOD_NOT_ALLOWED => {
            let allow = parts
                .headers
                .get(header::ALLOW)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .replace(',', ", ");
            (
                "method_not_allowed",
                format!("{method} is not allowed on {path}; it answers {allow}"),
            )
        }
        StatusCode::NOT_FOUND => ("not_found", text),
        StatusCode::PAYLOAD_TOO_LARGE => ("too_large", text),
        s if s.is_server_error() => ("internal", text),
        _ => ("invalid", text),
    };
    let mut answer = error_response(status, code, message, None);
    for (name, value) in &parts.headers {
        if *name != header::CONTENT_TYPE && *name != header::CONTENT_LENGTH {
            answer.headers_mut().append(name, value.clone());
        }
    }
    answer
}

#[cfg(test)]
mod tests {
    use axum::Router;
    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use axum::middleware;
    use axum::routing::get;
    use http_body_util::BodyExt;
    use tower::ServiceExt;

    #[tokio::test]
    async fn a_panicking_handler_answers_500_with_the_error_body()
    -> Result<(), Box<dyn std::error::Error>> {
        async fn boom() -> &'static str {
            let index = "ç".len() - 1;
            &"ç"[..index]
        }
        let router = Router::new()
            .route("/boom", get(boom))
            .layer(middleware::from_fn(super::json_errors));
        let response = router
            .oneshot(Request::get("/boom").body(Body::empty())?)
            .await?;
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let body: serde_json::Value =
            serde_json::from_slice(&response.into_body().collect().await?.to_bytes())?;
        assert_eq!(body["error"]["code"], "internal", "{body}");
        Ok(())
    }
}
