//! The OpenAPI description, generated from the handlers' and types' annotations. The checked-in
//! copy (`openapi/berth.json`) is compared with it by a test, so it can never go stale.

use axum::Json;
use utoipa::OpenApi;

use berth_types::api::{
    BackendInfo, Backup, BridgeInfo, BuildImageRequest, CapabilityInfo, ConsoleControl,
    CreateBackupRequest, CreateForwardRequest, CreateInstanceRequest, ErrorBody, ErrorDetail,
    ExecRequest, ExecResponse, FileListing, ImageInfo, ImportQuery, ImportedImage, Ipv6UplinkInfo,
    Ipv6UplinkRequest, NetworkCapabilities, NetworkInfo, OperationEnvelope, PasswordRequest,
    PasswordResponse, PatchInstanceRequest, PowerRequest, RunRequest, SystemInfo,
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
    paths(
        super::auth::login,
        super::auth::refresh,
        super::auth::logout,
        super::auth::me,
        super::users::list,
        super::users::create,
        super::users::patch,
        super::users::delete,
        super::users::change_password,
        super::tokens::list,
        super::tokens::create,
        super::tokens::delete,
        super::audit::list,
        super::instances::list,
        super::instances::create,
        super::instances::get,
        super::instances::patch,
        super::instances::delete,
        super::instances::start,
        super::instances::stop,
        super::instances::restart,
        super::instances::suspend,
        super::instances::resume,
        super::instances::exec,
        super::instances::password,
        super::forwards::list,
        super::forwards::create,
        super::forwards::delete,
        super::network::get,
        super::backups::list,
        super::backups::create,
        super::backups::export,
        super::backups::delete,
        super::network::set_ipv6,
        super::console::console,
        super::files::pull,
        super::files::push,
        super::snapshots::list,
        super::snapshots::create,
        super::snapshots::restore,
        super::snapshots::delete,
        super::operations::list,
        super::operations::get,
        super::operations::wait,
        super::operations::cancel,
        super::images::list,
        super::images::build,
        super::images::delete,
        super::images::import,
        super::run::run,
        super::system::get,
        super::settings::get,
        super::settings::put,
        super::events::events,
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
    ))
)]
pub struct ApiDoc;

/// The description as pretty JSON, exactly as checked in.
pub fn json() -> String {
    ApiDoc::openapi()
        .to_pretty_json()
        .unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
}

pub async fn serve() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
