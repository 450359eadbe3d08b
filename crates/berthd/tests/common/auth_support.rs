//! What the authentication tests share: the two users' passwords and a cast of callers (an
//! admin, two users, a read-only token of one of them) with their credentials.

#![allow(dead_code, reason = "each test file uses a different part")]

use axum::http::StatusCode;
use serde_json::json;

use crate::common::{ADMIN_PASSWORD, SimDaemon};

pub const ALICE_PW: &str = "Sails-Far-Northward-31";
pub const BOB_PW: &str = "Rows-Slowly-Home-47";

pub struct Cast {
    pub admin: String,
    pub alice: String,
    pub bob: String,
    pub alice_reader: String,
    pub alice_reader_secret: String,
    pub bob_id: String,
    pub alice_op: String,
}

pub async fn login(
    daemon: &SimDaemon,
    user: &str,
    password: &str,
) -> Result<String, Box<dyn std::error::Error>> {
    let (status, body) = daemon
        .call_as(
            None,
            "POST",
            "/api/v1/auth/login",
            json!({"username": user, "password": password}),
        )
        .await?;
    assert_eq!(status, StatusCode::OK, "{body}");
    Ok(body["access_token"].as_str().ok_or("no token")?.to_owned())
}

pub async fn cast(daemon: &SimDaemon) -> Result<Cast, Box<dyn std::error::Error>> {
    let mut bob_id = String::new();
    for (user, pw) in [("alice", ALICE_PW), ("bob", BOB_PW)] {
        let (status, body) = daemon
            .call(
                "POST",
                "/api/v1/users",
                json!({"username": user, "password": pw}),
            )
            .await?;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        if user == "bob" {
            bob_id = body["id"].as_str().ok_or("id")?.to_owned();
        }
    }
    let alice = login(daemon, "alice", ALICE_PW).await?;
    let bob = login(daemon, "bob", BOB_PW).await?;
    let admin = login(daemon, "admin", ADMIN_PASSWORD).await?;
    // A's instance, created by A herself; B's, created by the admin for B.
    let (status, created) = daemon
        .call_as(
            Some(&alice),
            "POST",
            "/api/v1/instances",
            json!({"name": "a-web", "image": "debian/12"}),
        )
        .await?;
    assert_eq!(status, StatusCode::ACCEPTED, "{created}");
    daemon.wait_success(&created).await?;
    let (status, b) = daemon
        .call_as(
            Some(&admin),
            "POST",
            "/api/v1/instances",
            json!({"name": "b-web", "image": "debian/12", "owner": "bob"}),
        )
        .await?;
    assert_eq!(status, StatusCode::ACCEPTED, "{b}");
    daemon.wait_success(&b).await?;
    let (status, token) = daemon
        .call_as(
            Some(&alice),
            "POST",
            "/api/v1/tokens",
            json!({"name": "ci", "scope": "read_only"}),
        )
        .await?;
    assert_eq!(status, StatusCode::CREATED, "{token}");
    let secret = token["secret"].as_str().ok_or("secret")?.to_owned();
    Ok(Cast {
        admin,
        alice,
        bob,
        alice_reader: secret.clone(),
        alice_reader_secret: secret,
        bob_id,
        alice_op: created["operation"]["id"].as_str().ok_or("op")?.to_owned(),
    })
}
