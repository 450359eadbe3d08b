//! The events WebSocket follows its credential: a logout, a revoked token and a changed role
//! end or narrow the stream.

use crate::events_support;

use std::time::Duration;

use axum::http::StatusCode;
use events_support::*;
use futures_util::StreamExt;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

/// Reads until the server closes the stream; the close reason.
async fn closed(ws: &mut Ws) -> Result<String, Error> {
    loop {
        let message = tokio::time::timeout(Duration::from_secs(30), ws.next())
            .await
            .map_err(|_| "the stream stayed open for 30 s")?;
        match message {
            Some(Ok(Message::Close(frame))) => {
                return Ok(frame.map(|f| f.reason.to_string()).unwrap_or_default());
            }
            Some(Ok(_)) => continue,
            other => return Err(format!("the stream ended without a close: {other:?}").into()),
        }
    }
}

#[tokio::test]
async fn a_stream_follows_its_credential_logout_revocation_and_role() -> Result<(), Error> {
    let d = daemon().await?;
    let served = d.serve_tcp().await.map_err(|e| e.to_string())?;
    let (admin, alice, bob) = cast(&d).await?;
    let (status, token) = d
        .call_as(
            Some(&alice),
            "POST",
            "/api/v1/tokens",
            json!({"name": "ci"}),
        )
        .await
        .map_err(|e| e.to_string())?;
    assert_eq!(status, StatusCode::CREATED, "{token}");
    let secret = token["secret"].as_str().ok_or("secret")?.to_owned();
    let token_id = token["token"]["id"].as_str().ok_or("token id")?.to_owned();
    let mut by_session = subscribe(served.addr, "", &alice).await?;
    let mut by_token = subscribe(served.addr, "", &secret).await?;
    let mut bob_ws = subscribe(served.addr, "?types=lifecycle", &bob).await?;

    // Logging out ends the session's stream at once; the token's goes on.
    let (status, body) = d
        .call_as(Some(&alice), "POST", "/api/v1/auth/logout", Value::Null)
        .await
        .map_err(|e| e.to_string())?;
    assert!(status.is_success(), "{status} {body}");
    assert!(closed(&mut by_session).await?.contains("log in again"));
    let (status, body) = d
        .call_as(
            Some(&admin),
            "DELETE",
            &format!("/api/v1/tokens/{token_id}"),
            Value::Null,
        )
        .await
        .map_err(|e| e.to_string())?;
    assert!(status.is_success(), "{status} {body}");
    assert!(closed(&mut by_token).await?.contains("log in again"));

    // Promoted to admin, bob's open stream shows everyone's events from then on.
    let bob_id = d
        .app
        .auth
        .db()
        .user_by_name("bob")
        .map_err(|e| e.to_string())?
        .ok_or("bob")?
        .id;
    let (status, body) = d
        .call_as(
            Some(&admin),
            "PATCH",
            &format!("/api/v1/users/{bob_id}"),
            json!({"role": "admin"}),
        )
        .await
        .map_err(|e| e.to_string())?;
    assert_eq!(status, StatusCode::OK, "{body}");
    create(
        &d,
        &admin,
        json!({"name": "x1", "image": "debian/12", "owner": "alice"}),
    )
    .await?;
    let event = next_event(&mut bob_ws).await?;
    assert!(is_lifecycle(&event, "x1", "instance-created"), "{event}");
    Ok(())
}
