//! `/api/v1/instances` and `/api/v1/instances/{name}`; what lies below an instance has a module
//! each (`power` for the verbs, `snapshots`, `backups`, …).

mod backups;
mod console;
mod exec;
mod files;
mod forwards;
pub mod metrics;
mod password;
mod power;
mod snapshots;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::HeaderValue;
use axum::response::Response;
use berth_types::api::{
    CreateInstanceRequest, ErrorBody, ImportQuery, OperationEnvelope, PatchInstanceRequest,
    PowerRequest,
};
use berth_types::{CacheStatus, Instance};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::api::access::{Rule, Who};
use crate::api::binary::Binary;
use crate::api::extract::{Caller, CreateOrImport, Query, body_reader};
use crate::api::reply::with_cache_status;
use crate::api::{ApiError, AppState, JsonBody, accepted, accepted_with_password};
use crate::app::instances::list::{RawListFilter, list_etag};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(get, patch, delete))
        .merge(power::routes())
        .merge(exec::routes())
        .merge(password::routes())
        .merge(console::routes())
        .merge(files::routes())
        .merge(forwards::routes())
        .merge(snapshots::routes())
        .merge(backups::routes())
        .merge(metrics::routes())
}

/// `{name}` in `/instances/{name}/…`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct InstancePath {
    /// Instance name.
    pub name: String,
}

/// `GET /api/v1/instances` query: a page (`limit`, `after`) and filters, all optional.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// At most this many instances (1-1000); without it, all. When more remain, the answer's
    /// `X-Next-Cursor` header holds the value for `after`.
    pub limit: Option<u32>,
    /// Only instances whose name sorts after this one: the previous page's `X-Next-Cursor`.
    pub after: Option<String>,
    /// Only instances in this state (`creating`, `stopped`, `running`, `suspended`, `error`,
    /// `deleting`).
    pub state: Option<String>,
    /// Only instances of this owner (other owners than oneself: admins only, else 403).
    pub owner: Option<String>,
    /// Only instances on this backend (one this berthd offers, else 400).
    pub backend: Option<String>,
    /// Only names matching this pattern: `*` matches any run of characters (`web-*`), `?` one;
    /// without either, the exact name.
    pub name: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/instances", operation_id = "instance.list", tag = "instances",
    extensions(("x-berth-access" = json!(Rule::reads(Who::User)))),
    params(ListQuery),
    responses((status = 200, description = "The instances the caller may see, sorted by name, filtered, one page", body = [Instance],
        headers(("X-Cache-Status" = String, description = "With remote (proxmox) instances: STALE when the backend is unreachable and states are the last known, else MISS or HIT"),
                ("X-Next-Cursor" = String, description = "With `limit`, when more instances follow: pass it as `after` for the next page"),
                ("ETag" = String, description = "Changes whenever any instance or its state changes; send it back as `If-None-Match`"))),
        (status = 304, description = "Unchanged: the request's `If-None-Match` holds this query's current `ETag`"),
        (status = 400, description = "A bad parameter (named in the error)", body = ErrorBody),
        (status = 403, description = "`owner` names another user and the caller is not an admin", body = ErrorBody)))]
pub async fn list(
    State(app): State<AppState>,
    Caller(caller): Caller,
    Query(query): Query<ListQuery>,
    uri: axum::http::Uri,
    headers: axum::http::HeaderMap,
) -> Result<Response, ApiError> {
    let filter = app.list_filter(
        &caller,
        &RawListFilter {
            limit: query.limit,
            after: query.after.as_deref(),
            state: query.state.as_deref(),
            owner: query.owner.as_deref(),
            backend: query.backend.as_deref(),
            name: query.name.as_deref(),
        },
    )?;
    // Taken before reading: a change while the page is built moves it, so the next request
    // reads again.
    let etag = list_etag(
        app.instances_generation(),
        &caller,
        uri.query().unwrap_or_default(),
    );
    let matches = if_none_match(&headers, &etag);
    // Remote states change without a write here: those lists are read before answering 304.
    if matches && !app.has_remote_backend() {
        return Ok(not_modified(&etag, None));
    }
    let page = app.list_instances(&caller, &filter).await?;
    let cache = page
        .instances
        .iter()
        .fold(None, |acc, i| CacheStatus::combine(acc, i.cache));
    if matches && page.instances.iter().all(|i| i.cache.is_none()) {
        return Ok(not_modified(&etag, cache));
    }
    let mut response = with_cache_status(cache, Json(page.instances));
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&etag) {
        headers.insert(axum::http::header::ETAG, value);
    }
    if let Some(next) = page.next.and_then(|n| HeaderValue::from_str(&n).ok()) {
        headers.insert("x-next-cursor", next);
    }
    Ok(response)
}

/// Whether `If-None-Match` lists `etag` (or is `*`).
fn if_none_match(headers: &axum::http::HeaderMap, etag: &str) -> bool {
    headers
        .get_all(axum::http::header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .any(|tag| tag == "*" || weak(tag) == weak(etag))
}

/// The opaque part of an entity tag (`If-None-Match` compares weakly).
fn weak(tag: &str) -> &str {
    tag.strip_prefix("W/").unwrap_or(tag)
}

fn not_modified(etag: &str, cache: Option<CacheStatus>) -> Response {
    let mut response = with_cache_status(cache, axum::http::StatusCode::NOT_MODIFIED);
    if let Ok(value) = HeaderValue::from_str(etag) {
        response
            .headers_mut()
            .insert(axum::http::header::ETAG, value);
    }
    response
}

#[utoipa::path(post, path = "/api/v1/instances", operation_id = "instance.create", tag = "instances",
    extensions(("x-berth-access" = json!(Rule::writes(Who::User)))),
    request_body(content((CreateInstanceRequest = "application/json"), (Binary = "application/zstd"),
                         (Binary = "application/octet-stream")),
        description = "JSON creates an instance; a backup archive (`application/zstd`) imports one"),
    params(ImportQuery),
    responses((status = 202, description = "Create or import started", body = OperationEnvelope),
              (status = 400, description = "Bad input or a bad archive", body = ErrorBody),
              (status = 409, description = "Name taken", body = ErrorBody)))]
pub async fn create(
    State(app): State<AppState>,
    Caller(caller): Caller,
    Query(query): Query<ImportQuery>,
    body: CreateOrImport<CreateInstanceRequest>,
) -> Result<Response, ApiError> {
    match body {
        CreateOrImport::Json(request) => {
            let (operation, password) = app.create_instance(&caller, request).await?;
            Ok(accepted_with_password(operation, password))
        }
        CreateOrImport::Archive(body) => {
            let name = query.name.as_deref();
            let operation = app
                .import_instance(&caller, name, body_reader(body))
                .await?;
            Ok(accepted(operation))
        }
    }
}

#[utoipa::path(get, path = "/api/v1/instances/{name}", operation_id = "instance.get", tag = "instances",
    extensions(("x-berth-access" = json!(Rule::reads(Who::InstanceOwner)))),
    params(InstancePath),
    responses((status = 200, description = "The instance", body = Instance,
                  headers(("X-Cache-Status" = String, description = "Remote (proxmox) instances: HIT, MISS, or STALE while the backend is unreachable"))),
              (status = 404, description = "No such instance", body = ErrorBody)))]
pub async fn get(
    State(app): State<AppState>,
    Caller(caller): Caller,
    Path(InstancePath { name }): Path<InstancePath>,
) -> Result<Response, ApiError> {
    let instance = app.get_instance(&caller, &name).await?;
    Ok(with_cache_status(instance.cache, Json(instance)))
}

#[utoipa::path(patch, path = "/api/v1/instances/{name}", operation_id = "instance.update", tag = "instances",
    extensions(("x-berth-access" = json!(Rule::writes(Who::InstanceOwner)))),
    params(InstancePath), request_body = PatchInstanceRequest,
    responses((status = 200, description = "The changed instance", body = Instance),
              (status = 400, description = "Bad input", body = ErrorBody),
              (status = 404, description = "No such instance", body = ErrorBody),
              (status = 409, description = "The instance is busy with an operation, or a security flag was changed while it is not stopped", body = ErrorBody)))]
pub async fn patch(
    State(app): State<AppState>,
    Caller(caller): Caller,
    Path(InstancePath { name }): Path<InstancePath>,
    JsonBody(request): JsonBody<PatchInstanceRequest>,
) -> Result<Json<Instance>, ApiError> {
    Ok(Json(app.patch_instance(&caller, &name, request).await?))
}

#[utoipa::path(delete, path = "/api/v1/instances/{name}", operation_id = "instance.delete", tag = "instances",
    extensions(("x-berth-access" = json!(Rule::writes(Who::InstanceOwner)))),
    params(InstancePath), request_body = Option<PowerRequest>,
    responses((status = 202, description = "Delete started", body = OperationEnvelope),
              (status = 404, description = "No such instance", body = ErrorBody),
              (status = 409, description = "Running and not forced", body = ErrorBody)))]
pub async fn delete(
    State(app): State<AppState>,
    Caller(caller): Caller,
    Path(InstancePath { name }): Path<InstancePath>,
    JsonBody(request): JsonBody<PowerRequest>,
) -> Result<Response, ApiError> {
    Ok(accepted(
        app.delete_instance(&caller, &name, request).await?,
    ))
}
