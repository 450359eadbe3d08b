//! The OpenAPI description, generated from the handlers' and types' annotations: the routes
//! come from [`super::v1::routes`] (the router and the description are built together), the
//! info and the schemas no route names here, and the route that serves the description itself
//! (`GET /api/v1/openapi.json`) is here, beside what it serves. The checked-in copy (`openapi/berth.json`) is
//! compared with it by a test, so it can never go stale.

mod complete;

use std::sync::OnceLock;

use axum::{Json, Router};
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::access::{Rule, Who};
use berth_types::api::{
    BackendInfo, Backup, BridgeInfo, BuildImageRequest, CapabilityInfo, ConsoleControl,
    CreateBackupRequest, CreateForwardRequest, CreateInstanceRequest, ErrorBody, ErrorDetail,
    ExecRequest, ExecResponse, FileListing, ImageInfo, ImportQuery, ImportedImage, Ipv6UplinkInfo,
    Ipv6UplinkRequest, NetworkCapabilities, NetworkInfo, OperationEnvelope, PasswordRequest,
    PasswordResponse, PatchInstanceRequest, PowerRequest, RestoreBackupRequest, RunRequest,
    SystemInfo,
};
use berth_types::instance::Forward;
use berth_types::snapshot::{CreateSnapshotRequest, Snapshot, SnapshotSchedule};
use berth_types::{
    Instance, InstanceNetwork, InstanceState, Limits, Operation, OperationKind, OperationStatus,
    OperationStep, StepStatus,
};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Berth API",
        description = "Self-hosted VPS hosting: instances, operations, images.",
        version = "1"
    ),
    components(schemas(
        berth_auth::User,
        berth_auth::Role,
        berth_auth::Quota,
        berth_auth::Usage,
        berth_auth::Scope,
        berth_auth::ApiToken,
        berth_auth::AuditEntry,
        berth_auth::api::LoginRequest,
        berth_auth::api::RefreshRequest,
        berth_auth::api::SessionResponse,
        berth_auth::api::Me,
        berth_auth::api::CreateUserRequest,
        berth_auth::api::PatchUserRequest,
        berth_auth::api::ChangePasswordRequest,
        berth_auth::api::CreateTokenRequest,
        berth_auth::api::CreatedTokenResponse,
        Instance,
        PasswordRequest,
        PasswordResponse,
        InstanceNetwork,
        InstanceState,
        Forward,
        Limits,
        Operation,
        OperationKind,
        OperationStatus,
        OperationStep,
        StepStatus,
        ErrorBody,
        ErrorDetail,
        OperationEnvelope,
        CreateInstanceRequest,
        PatchInstanceRequest,
        PowerRequest,
        ExecRequest,
        ExecResponse,
        BuildImageRequest,
        ImageInfo,
        ImportedImage,
        RunRequest,
        BackendInfo,
        SystemInfo,
        CreateForwardRequest,
        CreateBackupRequest,
        RestoreBackupRequest,
        Backup,
        ImportQuery,
        Ipv6UplinkRequest,
        Ipv6UplinkInfo,
        NetworkCapabilities,
        CapabilityInfo,
        ConsoleControl,
        FileListing,
        NetworkInfo,
        Snapshot,
        CreateSnapshotRequest,
        SnapshotSchedule,
        BridgeInfo,
        berth_types::api::StoragePoolInfo,
        berth_types::host::HostView,
        berth_types::host::LoadAverage,
        berth_types::host::PoolUsage,
        berth_types::purge::PurgeRequest,
        berth_types::purge::PurgeResult,
        berth_types::api::KernelCapabilities,
        berth_types::settings::Settings,
        berth_types::settings::InstanceDefaults,
        berth_types::settings::MetricsSettings,
        berth_types::settings::Retention,
        berth_types::events::WireEvent,
        berth_types::events::EventType,
        berth_types::events::Lifecycle,
        berth_types::events::LifecycleAction,
        berth_types::events::Notice,
        berth_types::metrics::MetricsPoint,
        berth_types::metrics::MetricsHistory,
        berth_types::metrics::Timeframe,
        berth_types::metrics::Cf,
        berth_types::metrics::AlertMetric,
        berth_types::metrics::Comparison,
        berth_types::metrics::AlertScope,
        berth_types::metrics::AlertRule,
        berth_types::metrics::AlertRuleCreate,
        berth_types::metrics::AlertRulePatch,
        berth_types::metrics::AlertState,
        berth_types::metrics::AlertEvent,
        berth_types::metrics::AlertTestRequest,
        berth_types::metrics::AlertTestResult,
    ))
)]
struct ApiDoc;

/// The API's router and its description, both from the handlers' attributes.
pub fn routes() -> (Router<super::AppState>, utoipa::openapi::OpenApi) {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(openapi_json))
        .merge(super::v1::routes())
        .merge(super::readyz::routes())
        .merge(super::healthz::routes())
        .split_for_parts()
}

#[utoipa::path(get, path = "/api/v1/openapi.json", operation_id = "openapi", tag = "system",
    extensions(("x-berth-access" = json!(Rule::reads(Who::Anyone)))),
    responses((status = 200, description = "This description", content_type = "application/json")))]
async fn openapi_json() -> Json<&'static utoipa::openapi::OpenApi> {
    Json(document())
}

/// The published description (`GET /api/v1/openapi.json`, `openapi/berth.json`).
pub fn document() -> &'static utoipa::openapi::OpenApi {
    static DOCUMENT: OnceLock<utoipa::openapi::OpenApi> = OnceLock::new();
    DOCUMENT.get_or_init(|| published(routes().1))
}

/// The routed description as clients read it: a catch-all segment (`{*alias}`, which may hold
/// `/`) is an ordinary path parameter to them (`{alias}`, sent with `/` escaped or not).
/// The security and error answers every route of a class has are added (see `complete`).
fn published(mut doc: utoipa::openapi::OpenApi) -> utoipa::openapi::OpenApi {
    let paths = std::mem::take(&mut doc.paths.paths);
    doc.paths.paths = paths
        .into_iter()
        .map(|(path, item)| (path.replace("{*", "{"), item))
        .collect();
    complete::complete(&mut doc);
    doc
}

/// The description as pretty JSON, exactly as checked in.
pub fn json() -> String {
    document()
        .to_pretty_json()
        .unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
}
