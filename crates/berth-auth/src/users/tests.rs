//! Tests of the `users` table.

use super::*;
use crate::Quota;
use crate::db::temp_db;

type Result = std::result::Result<(), Box<dyn std::error::Error>>;

#[test]
fn usernames_are_checked() {
    for good in ["a", "alice", "bob.smith", "c-3_po", &"x".repeat(32)] {
        assert!(validate_username(good).is_ok(), "{good}");
    }
    for bad in [
        "",
        "Alice",
        "1abc",
        "_x",
        "a b",
        "é",
        "root!",
        &"x".repeat(33),
    ] {
        assert_eq!(validate_username(bad).expect_err(bad).field, "username");
    }
}

#[test]
fn create_find_list_and_duplicate() -> Result {
    let (_dir, db) = temp_db();
    let quota = Quota {
        instances: Some(3),
        ..Quota::default()
    };
    let alice = db.create_user("alice", "correct horse", Role::User, quota)?;
    assert_eq!(db.user(alice.id)?.as_ref(), Some(&alice));
    assert_eq!(db.user_by_name("alice")?.map(|u| u.quota), Some(quota));
    assert!(matches!(
        db.create_user("alice", "other horse", Role::Admin, Quota::default()),
        Err(UserError::Taken(name)) if name == "alice"
    ));
    assert!(matches!(
        db.create_user("bob", "password", Role::User, Quota::default()),
        Err(UserError::Invalid(e)) if e.field == "password"
    ));
    assert!(matches!(
        db.create_user("Bob", "correct horse", Role::User, Quota::default()),
        Err(UserError::Invalid(e)) if e.field == "username"
    ));
    db.create_user("bob", "correct horse", Role::Admin, Quota::default())?;
    let names: Vec<_> = db.users()?.into_iter().map(|u| u.username).collect();
    assert_eq!(names, ["alice", "bob"]);
    assert_eq!(db.user_count()?, 2);
    Ok(())
}

#[test]
fn credentials_give_one_error_for_unknown_and_wrong() -> Result {
    let (_dir, db) = temp_db();
    let alice = db.create_user("alice", "correct horse", Role::User, Quota::default())?;
    assert_eq!(
        db.verify_credentials("alice", "correct horse")?.id,
        alice.id
    );
    let wrong = db.verify_credentials("alice", "wrong horse").map(|u| u.id);
    let unknown = db
        .verify_credentials("nobody", "correct horse")
        .map(|u| u.id);
    assert_eq!(
        wrong.map_err(|e| e.to_string()),
        unknown.map_err(|e| e.to_string())
    );
    Ok(())
}

#[test]
fn roles_quotas_passwords_and_the_last_admin() -> Result {
    let (_dir, db) = temp_db();
    let admin = db.create_user("admin", "correct horse", Role::Admin, Quota::default())?;
    let alice = db.create_user("alice", "correct horse", Role::User, Quota::default())?;
    assert!(matches!(
        db.delete_user(admin.id),
        Err(UserError::LastAdmin)
    ));
    assert!(matches!(
        db.set_role(admin.id, Role::User),
        Err(UserError::LastAdmin)
    ));
    db.set_role(alice.id, Role::Admin)?;
    db.set_role(admin.id, Role::User)?;
    let bad = Quota {
        port_range: Some((2000, 1000)),
        ..Quota::default()
    };
    assert!(matches!(
        db.set_quota(alice.id, bad),
        Err(UserError::Invalid(_))
    ));
    assert!(matches!(
        db.set_password(alice.id, "alice123", None),
        Err(UserError::Invalid(_))
    ));
    db.set_password(alice.id, "battery staple", None)?;
    assert!(db.verify_credentials("alice", "battery staple").is_ok());
    assert!(db.verify_credentials("alice", "correct horse").is_err());
    db.delete_user(admin.id)?;
    assert!(matches!(db.delete_user(admin.id), Err(UserError::NotFound)));
    assert_eq!(db.user(admin.id)?, None);
    Ok(())
}
