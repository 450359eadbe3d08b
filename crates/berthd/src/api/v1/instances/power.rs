//! `/api/v1/instances/{name}/{start,stop,restart,suspend,resume}`: power verbs, each an
//! operation (`force`, `timeout` in the body).

use axum::extract::{Path, State};
use axum::response::Response;
use berth_types::api::{ErrorBody, OperationEnvelope, PowerRequest};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::InstancePath;
use crate::api::access::{Rule, Who};
use crate::api::extract::Caller;
use crate::api::{ApiError, AppState, JsonBody, accepted};
use crate::app::instances::PowerAction;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(start))
        .routes(routes!(stop))
        .routes(routes!(restart))
        .routes(routes!(suspend))
        .routes(routes!(resume))
}

/// One handler per verb; the attribute is written once, here.
macro_rules! power_handler {
    ($fn:ident, $action:expr, $path:literal, $operation:literal, $what:literal) => {
        #[utoipa::path(post, path = $path, operation_id = $operation, tag = "instances",
            extensions(("x-berth-access" = json!(Rule::writes(Who::InstanceOwner)))),
            params(InstancePath), request_body = Option<PowerRequest>,
            responses((status = 202, description = $what, body = OperationEnvelope),
                      (status = 404, description = "No such instance", body = ErrorBody),
                      (status = 409, description = "Not possible in the instance's state", body = ErrorBody)))]
        pub async fn $fn(
            State(app): State<AppState>,
    Caller(caller): Caller,
            Path(InstancePath { name }): Path<InstancePath>,
            JsonBody(request): JsonBody<PowerRequest>,
        ) -> Result<Response, ApiError> {
            Ok(accepted(app.power_instance(&caller, &name, $action, request).await?))
        }
    };
}

power_handler!(
    start,
    PowerAction::Start,
    "/api/v1/instances/{name}/start",
    "instance.start",
    "Start started"
);
power_handler!(
    stop,
    PowerAction::Stop,
    "/api/v1/instances/{name}/stop",
    "instance.stop",
    "Stop started"
);
power_handler!(
    restart,
    PowerAction::Restart,
    "/api/v1/instances/{name}/restart",
    "instance.restart",
    "Restart started"
);
power_handler!(
    suspend,
    PowerAction::Suspend,
    "/api/v1/instances/{name}/suspend",
    "instance.suspend",
    "Suspend started"
);
power_handler!(
    resume,
    PowerAction::Resume,
    "/api/v1/instances/{name}/resume",
    "instance.resume",
    "Resume started"
);
