//! The catalogue of declared steps: every kind of operation with the steps its declaration
//! lists. It names every operation, so it stands apart from the step machinery
//! (`app/steps.rs`) that each operation uses.

use berth_types::OperationKind;

use super::steps::{StepDecl, Steps};

/// The steps of every kind of operation, as declared: for documentation and for the tests
/// that fail and kill the daemon at each.
pub fn declared(kind: OperationKind) -> Vec<StepDecl> {
    use super::instances::{CreateStep, DeleteStep, PowerAction};
    fn all<S: Steps>() -> Vec<StepDecl> {
        S::ALL.iter().map(|s| s.decl()).collect()
    }
    match kind {
        OperationKind::InstanceCreate => all::<CreateStep>(),
        OperationKind::InstanceDelete => all::<DeleteStep>(),
        OperationKind::InstanceStart => PowerAction::Start.declared(),
        OperationKind::InstanceStop => PowerAction::Stop.declared(),
        OperationKind::InstanceRestart => PowerAction::Restart.declared(),
        OperationKind::InstanceSuspend => PowerAction::Suspend.declared(),
        OperationKind::InstanceResume => PowerAction::Resume.declared(),
        OperationKind::InstanceSnapshot => all::<super::snapshots::SnapshotStep>(),
        OperationKind::InstanceRestore => all::<super::snapshots::RestoreStep>(),
        OperationKind::InstanceBackup => all::<super::backups::BackupStep>(),
        OperationKind::InstanceImport => all::<super::backups::ImportStep>(),
        OperationKind::ImageBuild => all::<super::images::BuildStep>(),
        // Kinds no operation of this berthd has (yet).
        OperationKind::InstanceRun | OperationKind::ImageDelete => Vec::new(),
    }
}
