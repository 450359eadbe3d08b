//! The app is safe without the HTTP guard: every app method a request reaches takes the caller
//! and checks it itself. Called directly (no router, no guard), another user's instance or
//! operation is "not found", admin-only methods refuse users, and a read-only token changes
//! nothing.

use crate::common;

use std::sync::Arc;

use berth_auth::Principal;
use berthd::app::instances::PowerAction;
use berthd::app::metrics::HistoryQuery;
use berthd::app::{App, AppError};
use common::{SimDaemon, TestResult};
use serde_json::{Value, json};

type Outcome = Result<(), AppError>;

/// Drops whatever a call returned on success: only refusals matter here.
fn done<T>(result: Result<T, AppError>) -> Outcome {
    result.map(|_| ())
}

/// Every instance-scoped app method, on instance `name`, as `caller`; with what it was.
async fn instance_calls(
    app: &Arc<App>,
    caller: &Principal,
    name: &str,
) -> Vec<(&'static str, Outcome)> {
    let id = "00000000-0000-4000-8000-00000000beef";
    let push = berthd::app::files::PushTarget::parse("/tmp/x", None, None, None);
    let push = push.map_err(AppError::from);
    vec![
        ("get_instance", done(app.get_instance(caller, name).await)),
        (
            "patch_instance",
            done(app.patch_instance(caller, name, Default::default()).await),
        ),
        (
            "delete_instance",
            done(app.delete_instance(caller, name, Default::default()).await),
        ),
        (
            "power_instance",
            done(
                app.power_instance(caller, name, PowerAction::Stop, Default::default())
                    .await,
            ),
        ),
        (
            "exec_instance",
            done(app.exec_instance(caller, name, Default::default()).await),
        ),
        (
            "set_password",
            done(app.set_password(caller, name, Default::default()).await),
        ),
        (
            "open_console",
            done(app.open_console(caller, name, &Default::default()).await),
        ),
        ("list_forwards", done(app.list_forwards(caller, name))),
        (
            "add_forward",
            done(app.add_forward(caller, name, Default::default()).await),
        ),
        (
            "remove_forward",
            done(app.remove_forward(caller, name, id).await),
        ),
        ("list_snapshots", done(app.list_snapshots(caller, name))),
        (
            "create_snapshot",
            done(app.create_snapshot(caller, name, Default::default())),
        ),
        (
            "restore_snapshot",
            done(app.restore_snapshot(caller, name, "s1").await),
        ),
        (
            "delete_snapshot",
            done(app.delete_snapshot(caller, name, "s1").await),
        ),
        ("list_backups", done(app.list_backups(caller, name))),
        (
            "create_backup",
            done(app.create_backup(caller, name, Default::default())),
        ),
        ("backup_file", done(app.backup_file(caller, name, id))),
        (
            "delete_backup",
            done(app.delete_backup(caller, name, id).await),
        ),
        (
            "pull_file",
            done(app.pull_file(caller, name, "/etc/hostname").await),
        ),
        (
            "push_file",
            match push {
                Ok(target) => done(
                    app.push_file(caller, name, target, Box::new(std::io::empty()))
                        .await,
                ),
                Err(e) => Err(e),
            },
        ),
        (
            "instance_metrics",
            done(
                app.instance_metrics(caller, name, &HistoryQuery::default())
                    .await,
            ),
        ),
    ]
}

/// A purge that, if let through, would empty the table.
fn purge_everything() -> berth_types::purge::PurgeRequest {
    berth_types::purge::PurgeRequest {
        before: "2999-01-01T00:00:00Z".into(),
    }
}

/// Every admin-only app method, as `caller`.
async fn admin_calls(app: &Arc<App>, caller: &Principal) -> Vec<(&'static str, Outcome)> {
    let id = "00000000-0000-4000-8000-00000000beef";
    vec![
        ("list_users", done(app.list_users(caller))),
        (
            "create_user",
            done(app.create_user(caller, Default::default()).await),
        ),
        (
            "patch_user",
            done(app.patch_user(caller, id, Default::default()).await),
        ),
        ("delete_user", done(app.delete_user(caller, id))),
        (
            "build_image",
            done(app.build_image(caller, Default::default())),
        ),
        (
            "delete_image",
            done(app.delete_image(caller, "debian/12", None)),
        ),
        (
            "import_app_image",
            done(
                app.import_app_image(caller, "x", Box::new(std::io::empty()))
                    .await,
            ),
        ),
        (
            "run_app_image",
            done(app.run_app_image(caller, Default::default()).await),
        ),
        (
            "set_ipv6_uplink",
            done(app.set_ipv6_uplink(caller, Default::default()).await),
        ),
        (
            "put_settings",
            done(app.put_settings(caller, app.settings())),
        ),
        (
            "system_metrics",
            done(app.system_metrics(caller, &HistoryQuery::default()).await),
        ),
        (
            "send_test_email",
            done(app.send_test_email(caller, "a@example.com").await),
        ),
        (
            "purge_operations",
            done(app.purge_operations(caller, &purge_everything())),
        ),
        (
            "purge_audit",
            done(app.purge_audit(caller, &purge_everything())),
        ),
    ]
}

#[tokio::test]
async fn app_methods_refuse_strangers_users_and_read_only_tokens_without_the_guard() -> TestResult {
    let d = SimDaemon::start(&[]).await?;
    let alice_token = d.user("alice", "Sails-Far-Northward-31").await?;
    let bob_token = d.user("bob", "Rows-Slowly-Home-47").await?;
    let (status, created) = d
        .call_as(
            Some(&alice_token),
            "POST",
            "/api/v1/instances",
            json!({"name": "a-web", "image": "debian/12"}),
        )
        .await?;
    assert_eq!(status, 202, "{created}");
    d.wait_success(&created).await?;
    let alice_op = created["operation"]["id"]
        .as_str()
        .ok_or("operation id")?
        .to_owned();
    let (_, token) = d
        .call_as(
            Some(&alice_token),
            "POST",
            "/api/v1/tokens",
            json!({"name": "ro", "scope": "read_only"}),
        )
        .await?;
    let reader_secret = token["secret"].as_str().ok_or("secret")?.to_owned();
    let app = d.app.clone();
    let alice = app.authenticate(&alice_token).map_err(|e| e.to_string())?;
    let bob = app.authenticate(&bob_token).map_err(|e| e.to_string())?;
    let reader = app
        .authenticate(&reader_secret)
        .map_err(|e| e.to_string())?;
    let (_, before) = d
        .call("GET", "/api/v1/instances/a-web", Value::Null)
        .await?;

    // Someone else's instance and operation do not exist for bob.
    for (method, outcome) in instance_calls(&app, &bob, "a-web").await {
        match outcome {
            Err(AppError::NotFound(what)) => assert_eq!(what, "instance a-web", "{method}"),
            other => panic!("{method} as bob on alice's instance: {other:?}"),
        }
    }
    let op_calls = [
        ("get_operation", done(app.get_operation(&bob, &alice_op))),
        (
            "wait_operation",
            done(app.wait_operation(&bob, &alice_op, Some(0)).await),
        ),
        (
            "cancel_operation",
            done(app.cancel_operation(&bob, &alice_op)),
        ),
    ];
    for (method, outcome) in op_calls {
        assert!(
            matches!(outcome, Err(AppError::NotFound(_))),
            "{method} as bob: {outcome:?}"
        );
    }
    // Admin-only methods refuse a user.
    for (method, outcome) in admin_calls(&app, &alice).await {
        assert!(
            matches!(outcome, Err(AppError::Forbidden(_))),
            "{method} as alice: {outcome:?}"
        );
    }
    // A read-only token reads its owner's instance and changes nothing.
    for (method, outcome) in instance_calls(&app, &reader, "a-web").await {
        let reads = [
            "get_instance",
            "list_forwards",
            "list_snapshots",
            "list_backups",
            "backup_file",
            "pull_file",
            "instance_metrics",
        ];
        if reads.contains(&method) {
            assert!(
                !matches!(outcome, Err(AppError::Forbidden(_))),
                "{method} read-only: {outcome:?}"
            );
        } else {
            assert!(
                matches!(outcome, Err(AppError::Forbidden(_))),
                "{method} read-only: {outcome:?}"
            );
        }
    }
    let own_writes = [
        (
            "create_instance",
            done(app.create_instance(&reader, Default::default()).await),
        ),
        (
            "cancel_operation",
            done(app.cancel_operation(&reader, &alice_op)),
        ),
        (
            "create_token",
            done(app.create_token(&reader, Default::default())),
        ),
    ];
    for (method, outcome) in own_writes {
        assert!(
            matches!(outcome, Err(AppError::Forbidden(_))),
            "{method} read-only: {outcome:?}"
        );
    }
    let (_, after) = d
        .call("GET", "/api/v1/instances/a-web", Value::Null)
        .await?;
    assert_eq!(after, before, "a refused call changed the instance");
    Ok(())
}
