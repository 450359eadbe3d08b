//! Answers shared by several handlers: `202 Accepted` with an operation, `X-Cache-Status`, a
//! file streamed out.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use berth_types::api::OperationEnvelope;
use berth_types::{CacheStatus, Operation};

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

/// Adds `X-Cache-Status` when a remote backend answered (or could not).
pub fn with_cache_status(cache: Option<CacheStatus>, body: impl IntoResponse) -> Response {
    let mut response = body.into_response();
    if let Some(cache) = cache {
        response.headers_mut().insert(
            "x-cache-status",
            axum::http::HeaderValue::from_static(cache.header()),
        );
    }
    response
}

/// `file` streamed out as `content_type`, `length` bytes; offered for download as `attachment`
/// when given.
pub fn stream(
    file: tokio::fs::File,
    content_type: &'static str,
    length: u64,
    attachment: Option<&str>,
) -> Response {
    let body = axum::body::Body::from_stream(tokio_util::io::ReaderStream::new(file));
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    let disposition = attachment.map(|name| format!("attachment; filename=\"{name}\""));
    if let Some(Ok(value)) = disposition.map(|d| HeaderValue::from_str(&d)) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    response
}
