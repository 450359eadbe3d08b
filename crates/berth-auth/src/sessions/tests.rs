//! Tests of sessions: issue, verify, expiry, logout, refresh rotation, password change.

use super::*;
use crate::db::temp_db;
use crate::principal::Via;
use crate::{AuthDb, Quota};

type Result = std::result::Result<(), Box<dyn std::error::Error>>;

fn setup() -> (tempfile::TempDir, AuthDb, JwtKey, User) {
    let (dir, db) = temp_db();
    let user = db
        .create_user("alice", "correct horse", Role::User, Quota::default())
        .expect("user");
    (dir, db, JwtKey::from_bytes([7; 32]), user)
}

#[test]
fn key_file_is_private_and_reused() -> Result {
    let dir = tempfile::tempdir()?;
    let one = JwtKey::load_or_create(dir.path())?;
    assert_eq!(files::mode(&dir.path().join(KEY_FILE)), 0o600);
    let two = JwtKey::load_or_create(dir.path())?;
    assert_eq!(one.0, two.0);
    assert_eq!(format!("{one:?}"), "JwtKey(<redacted>)");
    std::fs::write(dir.path().join(KEY_FILE), b"short")?;
    let err = JwtKey::load_or_create(dir.path()).expect_err("bad key");
    assert!(err.to_string().contains("jwt.key"), "{err}");
    Ok(())
}

#[test]
fn login_issues_tokens_that_verify() -> Result {
    let (_dir, db, key, user) = setup();
    let issued = db.create_session(&key, &user, &ClientInfo::default())?;
    assert!(format!("{issued:?}").contains("<redacted>"));
    assert!(!format!("{issued:?}").contains(issued.refresh_token.expose()));
    let claims = key.verify(issued.access_token.expose())?;
    assert_eq!(
        (claims.sub, claims.sid, claims.role),
        (user.id, issued.session_id, Role::User)
    );
    assert_eq!(claims.exp - claims.iat, ACCESS_TTL.num_seconds());
    let principal = db.verify_access(&key, issued.access_token.expose())?;
    assert_eq!(principal.username, "alice");
    assert_eq!(
        principal.via,
        Via::Session {
            session_id: issued.session_id
        }
    );
    Ok(())
}

#[test]
fn forged_malformed_and_expired_tokens_fail() -> Result {
    let (_dir, db, key, user) = setup();
    let issued = db.create_session(&key, &user, &ClientInfo::default())?;
    let other = JwtKey::from_bytes([8; 32]);
    for bad in ["", "abc", "a.b.c"] {
        assert!(matches!(
            db.verify_access(&key, bad),
            Err(SessionError::InvalidToken)
        ));
    }
    assert!(matches!(
        db.verify_access(&other, issued.access_token.expose()),
        Err(SessionError::InvalidToken)
    ));
    let past = Utc::now() - Duration::hours(1);
    let expired = key.sign(&Claims {
        sub: user.id,
        role: user.role,
        sid: issued.session_id,
        iat: past.timestamp(),
        exp: (past + ACCESS_TTL).timestamp(),
    })?;
    assert!(matches!(
        db.verify_access(&key, &expired),
        Err(SessionError::Expired)
    ));
    Ok(())
}

#[test]
fn logout_revokes_the_session() -> Result {
    let (_dir, db, key, user) = setup();
    let issued = db.create_session(&key, &user, &ClientInfo::default())?;
    assert!(db.revoke_session(issued.session_id)?);
    assert!(!db.revoke_session(issued.session_id)?);
    assert!(matches!(
        db.verify_access(&key, issued.access_token.expose()),
        Err(SessionError::Revoked)
    ));
    assert!(matches!(
        db.refresh_session(&key, issued.refresh_token.expose()),
        Err(SessionError::InvalidRefresh)
    ));
    Ok(())
}

#[test]
fn refresh_rotates() -> Result {
    let (_dir, db, key, user) = setup();
    let first = db.create_session(&key, &user, &ClientInfo::default())?;
    let second = db.refresh_session(&key, first.refresh_token.expose())?;
    assert_eq!(second.session_id, first.session_id);
    assert_ne!(second.refresh_token, first.refresh_token);
    db.verify_access(&key, second.access_token.expose())?;
    let third = db.refresh_session(&key, second.refresh_token.expose())?;
    db.verify_access(&key, third.access_token.expose())?;
    assert!(matches!(
        db.refresh_session(&key, "not-a-token"),
        Err(SessionError::InvalidRefresh)
    ));
    // An unknown token ends nothing.
    db.verify_access(&key, third.access_token.expose())?;
    Ok(())
}

#[test]
fn reusing_a_rotated_refresh_token_ends_the_whole_family() -> Result {
    let (_dir, db, key, user) = setup();
    let other = db.create_session(&key, &user, &ClientInfo::default())?;
    let first = db.create_session(&key, &user, &ClientInfo::default())?;
    let second = db.refresh_session(&key, first.refresh_token.expose())?;
    let third = db.refresh_session(&key, second.refresh_token.expose())?;
    // Any rotated token of the family presented again (the thief's or the user's copy)…
    for (reused, _) in [(&first, 0), (&second, 1)] {
        assert!(matches!(
            db.refresh_session(&key, reused.refresh_token.expose()),
            Err(SessionError::RefreshReused)
        ));
    }
    // …ends every token descended from that login: access tokens and the newest refresh token.
    for issued in [&first, &second, &third] {
        assert!(matches!(
            db.verify_access(&key, issued.access_token.expose()),
            Err(SessionError::Revoked)
        ));
    }
    assert!(matches!(
        db.refresh_session(&key, third.refresh_token.expose()),
        Err(SessionError::InvalidRefresh)
    ));
    // Another login of the same user is another family: untouched.
    db.verify_access(&key, other.access_token.expose())?;
    db.refresh_session(&key, other.refresh_token.expose())?;
    // Pruning the ended session forgets its used tokens with it.
    db.prune_sessions(Utc::now() + Duration::seconds(1))?;
    assert!(matches!(
        db.refresh_session(&key, first.refresh_token.expose()),
        Err(SessionError::InvalidRefresh)
    ));
    Ok(())
}

#[test]
fn password_change_revokes_other_sessions() -> Result {
    let (_dir, db, key, user) = setup();
    let here = db.create_session(&key, &user, &ClientInfo::default())?;
    let elsewhere = db.create_session(&key, &user, &ClientInfo::default())?;
    db.set_password(user.id, "battery staple", Some(here.session_id))?;
    db.verify_access(&key, here.access_token.expose())?;
    assert!(matches!(
        db.verify_access(&key, elsewhere.access_token.expose()),
        Err(SessionError::Revoked)
    ));
    assert_eq!(db.revoke_user_sessions(user.id, None)?, 1);
    assert_eq!(db.prune_sessions(Utc::now() + Duration::seconds(1))?, 2);
    Ok(())
}

#[test]
fn a_deleted_user_loses_their_sessions() -> Result {
    let (_dir, db, key, user) = setup();
    let issued = db.create_session(&key, &user, &ClientInfo::default())?;
    db.create_user("root", "correct horse", Role::Admin, Quota::default())?;
    db.delete_user(user.id)?;
    assert!(matches!(
        db.verify_access(&key, issued.access_token.expose()),
        Err(SessionError::Revoked)
    ));
    Ok(())
}
