//! What handlers take from a request, with errors in our error format naming the field at
//! fault: the caller the guard identified, the query string, and JSON bodies (one value, nothing
//! after it; an empty body is the type's default, so optional bodies like `{"force": true}` may
//! be left out, except where a body replaces a whole thing).

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use berth_auth::Principal;
use berth_types::FieldError;
use futures_util::TryStreamExt;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
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
        let bytes = body_bytes(request, state).await?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(Self(T::default()));
        }
        parse_json(&bytes).map(Self)
    }
}

/// A JSON body that replaces a whole thing (`PUT`): every field `T` has must be given (`null`
/// where it may be `null`), so a partial body cannot reset the rest to defaults unseen.
pub struct FullJson<T>(pub T);

impl<S, T> FromRequest<S> for FullJson<T>
where
    S: Send + Sync,
    T: DeserializeOwned + Serialize + Default,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = body_bytes(request, state).await?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Err(invalid(
                "body",
                "is empty: this replaces every setting, so send them all (GET gives them)",
            ));
        }
        let given: Value = parse_json(&bytes)?;
        let shape = serde_json::to_value(T::default()).unwrap_or(Value::Null);
        if let Some(missing) = first_missing(&shape, &given, "") {
            return Err(invalid(
                &missing,
                "is missing: this replaces every setting, so send every field (null for none); \
                 GET gives the current values",
            ));
        }
        parse_json(&bytes).map(Self)
    }
}

/// The first field of `shape` (an object, recursively) that `given` leaves out.
fn first_missing(shape: &Value, given: &Value, prefix: &str) -> Option<String> {
    let (Value::Object(shape), Value::Object(given)) = (shape, given) else {
        return None;
    };
    shape.iter().find_map(|(key, inner)| {
        let field = if prefix.is_empty() {
            key.clone()
        } else {
            format!("{prefix}.{key}")
        };
        match given.get(key) {
            None => Some(field),
            Some(value) => first_missing(inner, value, &field),
        }
    })
}

async fn body_bytes<S: Send + Sync>(request: Request, state: &S) -> Result<Bytes, ApiError> {
    let bytes = Bytes::from_request(request, state)
        .await
        .map_err(|e| invalid("body", e.body_text()))?;
    if bytes.len() > BODY_LIMIT {
        return Err(invalid(
            "body",
            format!("is larger than {BODY_LIMIT} bytes"),
        ));
    }
    Ok(bytes)
}

/// One JSON value and nothing after it; an error names the field at fault.
fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    // The whole body is one JSON value, checked before its fields are.
    let mut values =
        serde_json::Deserializer::from_slice(bytes).into_iter::<serde::de::IgnoredAny>();
    match values.next() {
        Some(Err(e)) => return Err(invalid("body", format!("is not JSON: {e}"))),
        _ if values.next().is_some() => {
            return Err(invalid(
                "body",
                "has data after the JSON value; send exactly one JSON value",
            ));
        }
        _ => {}
    }
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(&mut deserializer)
        .map_err(|err| invalid(&field_of(&err), err.inner().to_string()))
}

/// The query string as `T`; an error names the parameter (`?limit=abc` → `limit`).
pub struct Query<T>(pub T);

impl<S, T> FromRequestParts<S> for Query<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or_default();
        let deserializer =
            serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
        serde_path_to_error::deserialize(deserializer)
            .map(Self)
            .map_err(|err| invalid(&field_of(&err), err.inner().to_string()))
    }
}

/// The field an error is about: its path, else the field a "missing field `x`" or "unknown
/// field `x`" message names under it, else the whole `body`.
fn field_of<E: std::fmt::Display>(err: &serde_path_to_error::Error<E>) -> String {
    let path = err.path().to_string();
    let parent = Some(path.as_str()).filter(|p| *p != "." && !p.is_empty());
    let message = err.inner().to_string();
    let named = ["missing field `", "unknown field `"]
        .iter()
        .find_map(|start| message.strip_prefix(start)?.split('`').next());
    match (parent, named) {
        // An unknown field's path already ends with it.
        (Some(parent), Some(name)) if parent == name || parent.ends_with(&format!(".{name}")) => {
            parent.to_owned()
        }
        (Some(parent), Some(name)) => format!("{parent}.{name}"),
        (None, Some(name)) => name.to_owned(),
        (Some(parent), None) => parent.to_owned(),
        (None, None) => "body".to_owned(),
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
