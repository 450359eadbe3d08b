//! What handlers take from a request, with errors in our error format: the caller the guard
//! identified, and JSON bodies naming the field at fault (an empty body is the type's default,
//! so optional bodies like `{"force": true}` may be left out).

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use berth_auth::Principal;
use berth_types::FieldError;
use futures_util::TryStreamExt;
use serde::de::DeserializeOwned;
use tokio_util::io::{StreamReader, SyncIoBridge};

use super::ApiError;
use crate::app::AppError;

/// The authenticated caller, as the guard identified them; 401 when there is none.
pub struct Caller(pub Principal);

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Principal>()
            .cloned()
            .map(Self)
            .ok_or_else(|| ApiError(AppError::Unauthorized("log in first".into())))
    }
}

/// Largest request body accepted.
const BODY_LIMIT: usize = 4 << 20;

pub struct JsonBody<T>(pub T);

impl<S, T> FromRequest<S> for JsonBody<T>
where
    S: Send + Sync,
    T: DeserializeOwned + Default,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = Bytes::from_request(request, state)
            .await
            .map_err(|e| invalid("body", e.body_text()))?;
        if bytes.len() > BODY_LIMIT {
            return Err(invalid(
                "body",
                format!("is larger than {BODY_LIMIT} bytes"),
            ));
        }
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(Self(T::default()));
        }
        let mut deserializer = serde_json::Deserializer::from_slice(&bytes);
        serde_path_to_error::deserialize(&mut deserializer)
            .map(Self)
            .map_err(|err| {
                let path = err.path().to_string();
                let field = if path == "." || path.is_empty() {
                    "body".to_owned()
                } else {
                    path
                };
                invalid(&field, err.inner().to_string())
            })
    }
}

fn invalid(field: &str, message: impl Into<String>) -> ApiError {
    ApiError(AppError::Invalid(FieldError::new(field, message)))
}

/// The body of `POST /instances`: JSON to create, or a backup archive
/// (`Content-Type: application/zstd` or `application/octet-stream`) to import.
pub enum CreateOrImport<T> {
    Json(T),
    Archive(axum::body::Body),
}

impl<S, T> FromRequest<S> for CreateOrImport<T>
where
    S: Send + Sync,
    T: DeserializeOwned + Default,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let archive = request
            .headers()
            .get(axum::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|t| {
                t.starts_with("application/zstd") || t.starts_with("application/octet-stream")
            });
        if archive {
            return Ok(Self::Archive(request.into_body()));
        }
        JsonBody::from_request(request, state)
            .await
            .map(|JsonBody(t)| Self::Json(t))
    }
}

/// A request body as a blocking reader (for `spawn_blocking` work).
pub fn body_reader(body: axum::body::Body) -> Box<dyn std::io::Read + Send> {
    let stream = body
        .into_data_stream()
        .map_err(|e| std::io::Error::other(e.to_string()));
    Box::new(SyncIoBridge::new(StreamReader::new(stream)))
}
