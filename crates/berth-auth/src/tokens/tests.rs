//! Tests of API tokens: format, verify, scopes, expiry, malformed input, list and revoke.

use chrono::Duration;

use super::*;
use crate::db::temp_db;
use crate::{Quota, Role, Via};

type Result = std::result::Result<(), Box<dyn std::error::Error>>;

#[test]
fn tokens_verify_list_and_revoke() -> Result {
    let (_dir, db) = temp_db();
    let alice = db.create_user("alice", "correct horse", Role::User, Quota::default())?;
    let bob = db.create_user("bob", "correct horse", Role::User, Quota::default())?;
    let ci = db.create_token(alice.id, "ci", Scope::ReadOnly, None)?;
    let text = ci.secret.expose();
    assert!(
        text.starts_with("berth_") && text.len() == 6 + 32 + 1 + 43,
        "{text}"
    );
    assert!(!format!("{ci:?}").contains(text));
    let principal = db.verify_token(text)?;
    assert_eq!(
        (principal.user_id, principal.scope),
        (alice.id, Scope::ReadOnly)
    );
    assert_eq!(
        principal.via,
        Via::Token {
            token_id: ci.token.id,
            name: "ci".into()
        }
    );
    assert_eq!(principal.actor(), "alice/ci");
    assert!(matches!(
        db.create_token(alice.id, "ci", Scope::Full, None),
        Err(TokenError::Taken(_))
    ));
    db.create_token(bob.id, "ci", Scope::Full, None)?;
    let listed = db.tokens(Some(alice.id))?;
    assert_eq!(listed.len(), 1);
    assert!(listed[0].last_used_at.is_some());
    assert_eq!(db.tokens(None)?.len(), 2);
    assert!(matches!(
        db.revoke_token(ci.token.id, Some(bob.id)),
        Err(TokenError::NotFound)
    ));
    db.revoke_token(ci.token.id, Some(alice.id))?;
    assert!(matches!(db.verify_token(text), Err(TokenError::Invalid)));
    Ok(())
}

#[test]
fn malformed_wrong_and_expired_tokens_fail() -> Result {
    let (_dir, db) = temp_db();
    let alice = db.create_user("alice", "correct horse", Role::User, Quota::default())?;
    let full = db.create_token(alice.id, "full", Scope::Full, None)?;
    let text = full.secret.expose();
    let id = full.token.id.simple().to_string();
    for bad in [
        "",
        "berth_",
        "token",
        "berth_xyz_abc",
        &format!("berth_{id}"),
        &format!("berth_{id}_short"),
        &format!("berth_{id}_{}", "!".repeat(43)),
        &format!("berth_{}_{}", "g".repeat(32), &text[39..]),
    ] {
        assert!(
            matches!(db.verify_token(bad), Err(TokenError::Malformed)),
            "{bad}"
        );
    }
    // Right id, wrong secret; unknown id.
    let wrong = format!("berth_{id}_{}", URL_SAFE_NO_PAD.encode([1u8; 32]));
    assert!(matches!(db.verify_token(&wrong), Err(TokenError::Invalid)));
    let unknown = format!("berth_{}_{}", Uuid::new_v4().simple(), &text[39..]);
    assert!(matches!(
        db.verify_token(&unknown),
        Err(TokenError::Invalid)
    ));
    assert!(matches!(
        db.create_token(alice.id, "old", Scope::Full, Some(Utc::now() - Duration::seconds(1))),
        Err(TokenError::Field(e)) if e.field == "expires_at"
    ));
    let soon = db.create_token(
        alice.id,
        "soon",
        Scope::Full,
        Some(Utc::now() + Duration::milliseconds(30)),
    )?;
    db.verify_token(soon.secret.expose())?;
    std::thread::sleep(std::time::Duration::from_millis(50));
    assert!(matches!(
        db.verify_token(soon.secret.expose()),
        Err(TokenError::Expired)
    ));
    for bad in ["", " x", &"n".repeat(65), "a\nb"] {
        assert!(matches!(
            db.create_token(alice.id, bad, Scope::Full, None),
            Err(TokenError::Field(_))
        ));
    }
    assert!(matches!(
        db.create_token(Uuid::new_v4(), "ghost", Scope::Full, None),
        Err(TokenError::NotFound)
    ));
    assert!(is_api_token(text) && !is_api_token("eyJhbGciOi"));
    Ok(())
}
