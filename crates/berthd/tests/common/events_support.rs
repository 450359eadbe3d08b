//! What the events WebSocket tests share: opening and reading a subscription, the two users
//! and their passwords, creating and powering instances, a daemon whose WebSocket budget fits
//! 300 subscribers.

#![allow(dead_code, reason = "each test file uses a different part")]

use std::net::SocketAddr;
use std::time::Duration;

use crate::common::{ADMIN_PASSWORD, SimDaemon};
use axum::http::StatusCode;
use futures_util::StreamExt;
use serde_json::Value;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::{WebSocketStream, client_async};

pub type Error = Box<dyn std::error::Error + Send + Sync>;
pub type Ws = WebSocketStream<TcpStream>;

pub const ALICE_PW: &str = "Sails-Far-Northward-31";
pub const BOB_PW: &str = "Rows-Slowly-Home-47";

/// Opens `/api/v1/events{query}` with these headers.
pub async fn open(addr: SocketAddr, query: &str, headers: &[(&str, String)]) -> Result<Ws, Error> {
    let stream = TcpStream::connect(addr).await?;
    let mut request = format!("ws://{addr}/api/v1/events{query}").into_client_request()?;
    for (name, value) in headers {
        let name = tungstenite::http::HeaderName::from_bytes(name.as_bytes())?;
        request.headers_mut().insert(name, value.parse()?);
    }
    let (socket, _) = client_async(request, stream).await?;
    Ok(socket)
}

pub async fn subscribe(addr: SocketAddr, query: &str, bearer: &str) -> Result<Ws, Error> {
    open(
        addr,
        query,
        &[("authorization", format!("Bearer {bearer}"))],
    )
    .await
}

/// The handshake's refusal at `/api/v1/events{query}`: status and error body.
pub async fn refused(
    addr: SocketAddr,
    query: &str,
    headers: &[(&str, String)],
) -> Result<(u16, Value), Error> {
    refused_at(&format!("ws://{addr}/api/v1/events{query}"), headers).await
}

pub async fn next_event(ws: &mut Ws) -> Result<Value, Error> {
    loop {
        let message = tokio::time::timeout(Duration::from_secs(30), ws.next())
            .await
            .map_err(|_| "no event within 30 s")?;
        match message {
            Some(Ok(Message::Text(text))) => return Ok(serde_json::from_str(&text)?),
            Some(Ok(_)) => continue,
            other => return Err(format!("the event stream ended: {other:?}").into()),
        }
    }
}

/// Reads events until one satisfies `last`; all of them, that one included.
pub async fn read_until(ws: &mut Ws, last: impl Fn(&Value) -> bool) -> Result<Vec<Value>, Error> {
    let mut seen = Vec::new();
    loop {
        let event = next_event(ws).await?;
        let done = last(&event);
        seen.push(event);
        if done {
            return Ok(seen);
        }
    }
}

pub fn is_lifecycle(event: &Value, instance: &str, action: &str) -> bool {
    event["type"] == "lifecycle"
        && event["instance"] == instance
        && event["data"]["action"] == action
}

pub async fn create(d: &SimDaemon, bearer: &str, body: Value) -> Result<Value, Error> {
    let (status, answer) = d
        .call_as(Some(bearer), "POST", "/api/v1/instances", body)
        .await
        .map_err(|e| e.to_string())?;
    assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
    d.wait_success(&answer).await.map_err(|e| e.to_string())?;
    Ok(answer)
}

pub async fn power(d: &SimDaemon, bearer: &str, name: &str, verb: &str) -> Result<(), Error> {
    let path = format!("/api/v1/instances/{name}/{verb}");
    let (status, answer) = d
        .call_as(Some(bearer), "POST", &path, Value::Null)
        .await
        .map_err(|e| e.to_string())?;
    assert_eq!(status, StatusCode::ACCEPTED, "{verb}: {answer}");
    d.wait_success(&answer).await.map_err(|e| e.to_string())?;
    Ok(())
}

/// Logs in the admin and creates alice (and bob), returning their access tokens.
pub async fn cast(d: &SimDaemon) -> Result<(String, String, String), Error> {
    let run = async {
        let admin = d.login("admin", ADMIN_PASSWORD).await?;
        let alice = d.user("alice", ALICE_PW).await?;
        let bob = d.user("bob", BOB_PW).await?;
        Ok::<_, Box<dyn std::error::Error>>((admin, alice, bob))
    };
    run.await.map_err(|e| e.to_string().into())
}

/// A daemon whose WebSocket budget fits the fan-out test's 300 subscribers (the budget itself
/// is tested in throttle_sim).
pub async fn daemon() -> Result<SimDaemon, Error> {
    SimDaemon::start_with_env(
        &[],
        &[
            ("BERTH_SERVER__MAX_WEBSOCKETS", "1000"),
            ("BERTH_SERVER__MAX_WEBSOCKETS_PER_USER", "1000"),
        ],
    )
    .await
    .map_err(|e| e.to_string().into())
}

/// A WebSocket handshake to `url` that the server refuses: its status and error body.
pub async fn refused_at(url: &str, headers: &[(&str, String)]) -> Result<(u16, Value), Error> {
    let request = url.into_client_request()?;
    let authority = request.uri().authority().ok_or("no authority")?.to_string();
    let stream = TcpStream::connect(authority).await?;
    let mut request = request;
    for (name, value) in headers {
        let name = tungstenite::http::HeaderName::from_bytes(name.as_bytes())?;
        request.headers_mut().insert(name, value.parse()?);
    }
    match client_async(request, stream).await {
        Ok(_) => Err("the handshake was accepted".into()),
        Err(tungstenite::Error::Http(response)) => {
            let body = response.body().as_deref().unwrap_or_default();
            Ok((
                response.status().as_u16(),
                serde_json::from_slice(body).unwrap_or(Value::Null),
            ))
        }
        Err(other) => Err(other.into()),
    }
}
