//! Operations: long actions with an id, status, progress, steps and an error.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum OperationStatus {
    Pending,
    Running,
    Success,
    Failure,
    Cancelled,
}

impl OperationStatus {
    pub fn is_final(self) -> bool {
        matches!(self, Self::Success | Self::Failure | Self::Cancelled)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Running => "running",
            Self::Success => "success",
            Self::Failure => "failure",
            Self::Cancelled => "cancelled",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        [
            Self::Pending,
            Self::Running,
            Self::Success,
            Self::Failure,
            Self::Cancelled,
        ]
        .into_iter()
        .find(|s| s.as_str() == raw)
    }
}

/// What an operation does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OperationKind {
    InstanceCreate,
    InstanceStart,
    InstanceStop,
    InstanceRestart,
    InstanceSuspend,
    InstanceResume,
    InstanceDelete,
    InstanceRun,
    InstanceSnapshot,
    InstanceRestore,
    InstanceBackup,
    InstanceImport,
    ImageBuild,
    ImageDelete,
}

impl OperationKind {
    /// Every kind.
    pub const ALL: &'static [Self] = &[
        Self::InstanceCreate,
        Self::InstanceStart,
        Self::InstanceStop,
        Self::InstanceRestart,
        Self::InstanceSuspend,
        Self::InstanceResume,
        Self::InstanceDelete,
        Self::InstanceRun,
        Self::InstanceSnapshot,
        Self::InstanceRestore,
        Self::InstanceBackup,
        Self::InstanceImport,
        Self::ImageBuild,
        Self::ImageDelete,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::InstanceCreate => "instance_create",
            Self::InstanceStart => "instance_start",
            Self::InstanceStop => "instance_stop",
            Self::InstanceRestart => "instance_restart",
            Self::InstanceSuspend => "instance_suspend",
            Self::InstanceResume => "instance_resume",
            Self::InstanceDelete => "instance_delete",
            Self::InstanceRun => "instance_run",
            Self::InstanceSnapshot => "instance_snapshot",
            Self::InstanceRestore => "instance_restore",
            Self::InstanceBackup => "instance_backup",
            Self::InstanceImport => "instance_import",
            Self::ImageBuild => "image_build",
            Self::ImageDelete => "image_delete",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum StepStatus {
    Pending,
    Running,
    Done,
    Failed,
    /// The step had run and was reverted when a later step failed.
    Undone,
    /// The step does not apply to this operation (e.g. no local image for a remote backend).
    Skipped,
}

/// One step of an operation, with its times.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct OperationStep {
    pub name: String,
    pub status: StepStatus,
    /// What the step is doing now, e.g. `installing packages (3/6)`.
    pub message: String,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
}

/// A long action, as `GET /operations/{id}` shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Operation {
    pub id: Uuid,
    pub kind: OperationKind,
    /// The instance name or image alias it acts on.
    pub target: String,
    pub status: OperationStatus,
    /// 0–100.
    pub progress: u8,
    /// The current step's message.
    pub message: String,
    pub steps: Vec<OperationStep>,
    pub error: Option<String>,
    /// Whether `DELETE /operations/{id}` may cancel it now.
    pub cancellable: bool,
    pub owner: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}
