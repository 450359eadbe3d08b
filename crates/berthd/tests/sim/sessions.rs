//! Refresh-token rotation through the real router on the sim backend: a refresh token that was
//! already traded in, presented again, ends the whole session it came from (OWASP's rule) —
//! its access tokens and its newest refresh token — and leaves the user's other sessions be.

use crate::common;

use axum::http::StatusCode;
use common::{ADMIN_PASSWORD, SimDaemon, TestResult};
use serde_json::{Value, json};

async fn session(d: &SimDaemon) -> Result<Value, Box<dyn std::error::Error>> {
    let (status, body) = d
        .call_as(
            None,
            "POST",
            "/api/v1/auth/login",
            json!({"username": "admin", "password": ADMIN_PASSWORD}),
        )
        .await?;
    assert_eq!(status, StatusCode::OK, "{body}");
    Ok(body)
}

async fn refresh(
    d: &SimDaemon,
    token: &Value,
) -> Result<(StatusCode, Value), Box<dyn std::error::Error>> {
    d.call_as(
        None,
        "POST",
        "/api/v1/auth/refresh",
        json!({"refresh_token": token}),
    )
    .await
}

async fn me(d: &SimDaemon, access: &Value) -> Result<StatusCode, Box<dyn std::error::Error>> {
    let bearer = access.as_str().ok_or("no access token")?;
    Ok(
        d.call_as(Some(bearer), "GET", "/api/v1/auth/me", Value::Null)
            .await?
            .0,
    )
}

#[tokio::test]
async fn reusing_a_rotated_refresh_token_ends_its_whole_session() -> TestResult {
    let d = SimDaemon::start(&[]).await?;
    let other = session(&d).await?;
    let first = session(&d).await?;
    let (status, second) = refresh(&d, &first["refresh_token"]).await?;
    assert_eq!(status, StatusCode::OK, "{second}");
    let (status, third) = refresh(&d, &second["refresh_token"]).await?;
    assert_eq!(status, StatusCode::OK, "{third}");
    assert_eq!(me(&d, &third["access_token"]).await?, StatusCode::OK);

    // The first refresh token comes back (a thief's copy, or the user's after a theft).
    let (status, answer) = refresh(&d, &first["refresh_token"]).await?;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{answer}");
    assert!(
        answer["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("already used")),
        "{answer}"
    );
    // Every token of that login is dead now: the newest access and refresh tokens too.
    assert_eq!(
        me(&d, &third["access_token"]).await?,
        StatusCode::UNAUTHORIZED
    );
    let (status, _) = refresh(&d, &third["refresh_token"]).await?;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // The user's other session is untouched.
    assert_eq!(me(&d, &other["access_token"]).await?, StatusCode::OK);
    let (status, _) = refresh(&d, &other["refresh_token"]).await?;
    assert_eq!(status, StatusCode::OK);
    Ok(())
}
