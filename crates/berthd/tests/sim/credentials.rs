//! Credentials through the real router on the sim backend: API tokens shown once, revocable,
//! bad ones a 401; browser sessions needing the CSRF token and their own origin.

use crate::{auth_support, common};

use auth_support::*;
use axum::http::StatusCode;
use common::{ADMIN_PASSWORD, SimDaemon, TestResult, tcp};
use serde_json::{Value, json};

#[tokio::test]
async fn tokens_are_shown_once_revocable_and_bad_ones_are_401() -> TestResult {
    let daemon = SimDaemon::start(&[]).await?;
    let cast = cast(&daemon).await?;
    let (status, list) = daemon
        .call_as(Some(&cast.alice), "GET", "/api/v1/tokens", Value::Null)
        .await?;
    assert_eq!(status, StatusCode::OK);
    assert!(
        !list.to_string().contains(&cast.alice_reader_secret),
        "a secret is listed"
    );
    let id = list[0]["id"].as_str().ok_or("id")?.to_owned();
    let (status, _) = daemon
        .call_as(
            Some(&cast.alice_reader),
            "GET",
            "/api/v1/auth/me",
            Value::Null,
        )
        .await?;
    assert_eq!(status, StatusCode::OK);
    // Bob cannot see or revoke Alice's token.
    let (status, _) = daemon
        .call_as(
            Some(&cast.bob),
            "DELETE",
            &format!("/api/v1/tokens/{id}"),
            Value::Null,
        )
        .await?;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = daemon
        .call_as(
            Some(&cast.alice),
            "DELETE",
            &format!("/api/v1/tokens/{id}"),
            Value::Null,
        )
        .await?;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, body) = daemon
        .call_as(
            Some(&cast.alice_reader),
            "GET",
            "/api/v1/auth/me",
            Value::Null,
        )
        .await?;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    for bad in [
        "berth_nonsense",
        "berth_00000000000000000000000000000000_x",
        "not.a.jwt",
        "",
    ] {
        let (status, body) = daemon
            .call_as(Some(bad), "GET", "/api/v1/instances", Value::Null)
            .await?;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{bad}: {body}");
    }
    // Expiry in the past, or both forms, is refused naming the field.
    let (status, body) = daemon
        .call_as(
            Some(&cast.alice),
            "POST",
            "/api/v1/tokens",
            json!({"name": "old", "expires_at": "2020-01-01T00:00:00Z"}),
        )
        .await?;
    assert_eq!(
        (status, body["error"]["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("expires_at"))
    );
    // Logout ends the session; a password change ends the others.
    let (status, _) = daemon
        .call_as(Some(&cast.bob), "POST", "/api/v1/auth/logout", Value::Null)
        .await?;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = daemon
        .call_as(Some(&cast.bob), "GET", "/api/v1/auth/me", Value::Null)
        .await?;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let other = login(&daemon, "alice", ALICE_PW).await?;
    let (status, body) = daemon
        .call_as(
            Some(&cast.alice),
            "POST",
            "/api/v1/users/me/password",
            json!({"current_password": ALICE_PW, "new_password": "Sails-Further-East-32"}),
        )
        .await?;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let (status, _) = daemon
        .call_as(Some(&other), "GET", "/api/v1/auth/me", Value::Null)
        .await?;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "the other session survived a password change"
    );
    let (status, _) = daemon
        .call_as(Some(&cast.alice), "GET", "/api/v1/auth/me", Value::Null)
        .await?;
    assert_eq!(
        status,
        StatusCode::OK,
        "the session that changed it ends too"
    );
    // Weak, over-long passwords and duplicate usernames are clear 4xx.
    for (user, pw, want) in [
        ("carol", "short", StatusCode::BAD_REQUEST),
        ("carol", &"x".repeat(5000)[..], StatusCode::BAD_REQUEST),
        ("alice", "Another-Good-Pass-9", StatusCode::CONFLICT),
        ("Bad Name", "Another-Good-Pass-9", StatusCode::BAD_REQUEST),
    ] {
        let (status, body) = daemon
            .call(
                "POST",
                "/api/v1/users",
                json!({"username": user, "password": pw}),
            )
            .await?;
        assert_eq!(status, want, "{user}: {body}");
    }
    Ok(())
}

#[tokio::test]
async fn browser_sessions_need_the_csrf_token_and_the_same_origin() -> TestResult {
    let daemon = SimDaemon::start(&[]).await?;
    let (status, headers, body) = daemon
        .request(
            tcp(),
            &[],
            "POST",
            "/api/v1/auth/login",
            json!({"username": "admin", "password": ADMIN_PASSWORD}),
        )
        .await?;
    assert_eq!(status, StatusCode::OK, "{body}");
    let cookies: Vec<String> = headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok().map(str::to_owned))
        .collect();
    let session = cookies
        .iter()
        .find(|c| c.starts_with("berth_session="))
        .ok_or("no session cookie")?;
    assert!(
        session.contains("HttpOnly") && session.contains("SameSite=Strict"),
        "{session}"
    );
    assert!(
        !session.contains("Secure"),
        "plain loopback HTTP cannot use Secure cookies"
    );
    let pair = session.split(';').next().ok_or("cookie")?.to_owned();
    let csrf = body["csrf_token"].as_str().ok_or("csrf")?.to_owned();
    let cookie = |extra: &[(&str, &str)]| {
        let mut h = vec![
            ("cookie".to_owned(), pair.clone()),
            ("host".to_owned(), "berth.example:8443".to_owned()),
        ];
        h.extend(
            extra
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
        );
        h
    };
    // An expired or forged session cookie does not stop a new login.
    let stale = vec![(
        "cookie".to_owned(),
        "berth_session=forged.jwt.value".to_owned(),
    )];
    let (status, _, body) = daemon
        .request(
            tcp(),
            &stale,
            "POST",
            "/api/v1/auth/login",
            json!({"username": "admin", "password": ADMIN_PASSWORD}),
        )
        .await?;
    assert_eq!(status, StatusCode::OK, "{body}");
    let create = json!({"name": "c1", "image": "debian/12"});
    let (status, _, body) = daemon
        .request(tcp(), &cookie(&[]), "GET", "/api/v1/auth/me", Value::Null)
        .await?;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["csrf_token"], csrf.as_str());
    // The browser's probe never answers 401: signed in (with the CSRF token), a stale cookie
    // (worth a refresh), or nothing at all.
    let (status, _, body) = daemon
        .request(
            tcp(),
            &cookie(&[]),
            "GET",
            "/api/v1/auth/session",
            Value::Null,
        )
        .await?;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["signed_in"], true);
    assert_eq!(body["me"]["user"]["username"], "admin");
    assert_eq!(body["me"]["csrf_token"], csrf.as_str());
    let (status, _, body) = daemon
        .request(tcp(), &stale, "GET", "/api/v1/auth/session", Value::Null)
        .await?;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body, json!({"signed_in": false, "expired": true}));
    let (status, _, body) = daemon
        .request(tcp(), &[], "GET", "/api/v1/auth/session", Value::Null)
        .await?;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body, json!({"signed_in": false, "expired": false}));
    let (status, _, body) = daemon
        .request(
            tcp(),
            &cookie(&[]),
            "POST",
            "/api/v1/instances",
            create.clone(),
        )
        .await?;
    assert_eq!(status, StatusCode::FORBIDDEN, "no CSRF header: {body}");
    let (status, _, body) = daemon
        .request(
            tcp(),
            &cookie(&[("x-csrf-token", "forged")]),
            "POST",
            "/api/v1/instances",
            create.clone(),
        )
        .await?;
    assert_eq!(status, StatusCode::FORBIDDEN, "wrong CSRF header: {body}");
    let (status, _, body) = daemon
        .request(
            tcp(),
            &cookie(&[("x-csrf-token", &csrf), ("origin", "https://evil.example")]),
            "POST",
            "/api/v1/instances",
            create.clone(),
        )
        .await?;
    assert_eq!(status, StatusCode::FORBIDDEN, "cross-origin: {body}");
    let (status, headers, body) = daemon
        .request(
            tcp(),
            &cookie(&[
                ("x-csrf-token", &csrf),
                ("origin", "https://berth.example:8443"),
            ]),
            "POST",
            "/api/v1/instances",
            create,
        )
        .await?;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert!(
        headers.get("access-control-allow-origin").is_none(),
        "CORS is off"
    );
    daemon.wait_success(&body).await?;
    Ok(())
}
