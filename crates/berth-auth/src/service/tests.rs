//! Tests of the request-level flows: login with rate limiting, bearer authentication of both
//! kinds, logout, password changes.

use std::time::Duration;

use super::*;
use crate::{Quota, Role, Scope};

type Result = std::result::Result<(), Box<dyn std::error::Error>>;

fn setup() -> (tempfile::TempDir, Auth) {
    let dir = tempfile::tempdir().expect("tempdir");
    let auth = Auth::open(dir.path(), &dir.path().join("berth.db")).expect("open");
    auth.db()
        .create_user("alice", "correct horse", Role::User, Quota::default())
        .expect("alice");
    (dir, auth)
}

fn from(ip: &str) -> ClientInfo {
    ClientInfo {
        ip: Some(ip.into()),
        user_agent: Some("test".into()),
    }
}

#[test]
fn login_authenticate_logout() -> Result {
    let (_dir, auth) = setup();
    let session = auth.login("alice", "correct horse", &from("10.0.0.1"))?;
    let principal = auth.authenticate(&format!(" {} ", session.access_token.expose()))?;
    assert_eq!(
        (principal.username.as_str(), principal.scope),
        ("alice", Scope::Full)
    );
    let refreshed = auth.refresh(session.refresh_token.expose())?;
    auth.authenticate(refreshed.access_token.expose())?;
    auth.logout(&principal)?;
    assert!(matches!(
        auth.authenticate(refreshed.access_token.expose()),
        Err(AuthError::Session(SessionError::Revoked))
    ));
    assert!(matches!(
        auth.authenticate("berth_nope"),
        Err(AuthError::Token(TokenError::Malformed))
    ));
    assert!(matches!(
        auth.authenticate("nope"),
        Err(AuthError::Session(SessionError::InvalidToken))
    ));
    Ok(())
}

#[test]
fn api_tokens_authenticate_with_their_scope() -> Result {
    let (_dir, auth) = setup();
    let alice = auth.db().user_by_name("alice")?.ok_or("alice")?;
    let token = auth
        .db()
        .create_token(alice.id, "ci", Scope::ReadOnly, None)?;
    let principal = auth.authenticate(token.secret.expose())?;
    assert!(principal.can_read("alice") && !principal.can_write("alice"));
    auth.logout(&principal)?;
    auth.authenticate(token.secret.expose())?;
    Ok(())
}

#[test]
fn failures_are_rate_limited_with_one_message() -> Result {
    let (_dir, auth) = setup();
    let wrong = auth
        .login("alice", "wrong horse", &from("10.0.0.1"))
        .map(|_| ());
    let unknown = auth
        .login("nobody", "correct horse", &from("10.0.0.2"))
        .map(|_| ());
    assert_eq!(
        wrong.map_err(|e| e.to_string()),
        unknown.map_err(|e| e.to_string())
    );
    for _ in 0..5 {
        assert!(matches!(
            auth.login("alice", "wrong horse", &from("10.0.0.3")),
            Err(AuthError::InvalidCredentials)
        ));
    }
    // Five failures for alice from 10.0.0.3: that address waits, even with the password…
    match auth.login("alice", "correct horse", &from("10.0.0.3")) {
        Err(AuthError::RateLimited(RetryAfter(wait, _))) => {
            assert!(wait >= Duration::from_secs(1) && wait <= Duration::from_secs(10));
        }
        other => return Err(format!("expected 429, got {other:?}").into()),
    }
    // …but nobody can lock alice out: she logs in from her own address.
    auth.login("alice", "correct horse", &from("10.0.0.9"))?;
    Ok(())
}

#[test]
fn own_password_change_keeps_this_session_only() -> Result {
    let (_dir, auth) = setup();
    let here = auth.login("alice", "correct horse", &from("10.0.0.1"))?;
    let there = auth.login("alice", "correct horse", &from("10.0.0.2"))?;
    let me = auth.authenticate(here.access_token.expose())?;
    assert!(matches!(
        auth.change_own_password(&me, "wrong horse", "battery staple", &from("10.0.0.1")),
        Err(AuthError::InvalidCredentials)
    ));
    assert!(matches!(
        auth.change_own_password(&me, "correct horse", "short", &from("10.0.0.1")),
        Err(AuthError::User(UserError::Invalid(e))) if e.field == "password"
    ));
    auth.change_own_password(&me, "correct horse", "battery staple", &from("10.0.0.1"))?;
    auth.authenticate(here.access_token.expose())?;
    assert!(auth.authenticate(there.access_token.expose()).is_err());
    auth.login("alice", "battery staple", &from("10.0.0.1"))?;
    auth.reset_password(me.user_id, "another horse")?;
    assert!(auth.authenticate(here.access_token.expose()).is_err());
    let later = chrono::Utc::now() + chrono::Duration::seconds(1);
    let (sessions, audit, dropped) = auth.prune(later, later)?;
    assert_eq!((sessions, audit, dropped), (3, 0, 0));
    Ok(())
}

#[test]
fn recheck_follows_revocation_and_role_changes() -> Result {
    let (_dir, auth) = setup();
    let session = auth.login("alice", "correct horse", &from("10.0.0.1"))?;
    let by_session = auth.authenticate(session.access_token.expose())?;
    let alice = auth.db().user_by_name("alice")?.ok_or("alice")?;
    let token = auth.db().create_token(alice.id, "ci", Scope::Full, None)?;
    let by_token = auth.authenticate(token.secret.expose())?;
    assert_eq!(auth.recheck(&by_session)?, Some(by_session.clone()));
    assert_eq!(auth.recheck(&by_token)?, Some(by_token.clone()));

    auth.db().set_role(alice.id, Role::Admin)?;
    let promoted = auth.recheck(&by_session)?.ok_or("session")?;
    assert!(promoted.is_admin());
    assert!(auth.recheck(&by_token)?.ok_or("token")?.is_admin());

    auth.logout(&by_session)?;
    assert_eq!(auth.recheck(&by_session)?, None);
    let Via::Token { token_id, .. } = by_token.via else {
        return Err("not a token".into());
    };
    auth.db().revoke_token(token_id, None)?;
    assert_eq!(auth.recheck(&by_token)?, None);
    Ok(())
}
