//! `GET …/vncwebsocket` in the double: checks the request like any other (token, schema, a
//! ticket from `termproxy`), upgrades to a WebSocket, expects `USER:TICKET\n`, answers `OK`,
//! then behaves as a getty on a terminal with echo: a banner and login prompt, and every key
//! frame (`0:LEN:DATA`) echoed back.

use std::collections::BTreeMap;
use std::sync::Arc;

use futures_util::{SinkExt, StreamExt};
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::Role;

use super::{Answer, Shared};

/// Whether `req` asks for a WebSocket.
pub(crate) fn is_upgrade(req: &Request<Incoming>) -> bool {
    req.headers()
        .get(hyper::header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"))
}

/// Checks the request and switches protocols, or answers PVE's error.
pub(crate) fn upgrade(
    shared: &Arc<Shared>,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Answer> {
    let path = req
        .uri()
        .path()
        .strip_prefix("/api2/json")
        .unwrap_or_default()
        .to_owned();
    let params: BTreeMap<String, String> = req
        .uri()
        .query()
        .map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
        .unwrap_or_default();
    let (endpoint, vars) = shared
        .schema
        .find("GET", &path)
        .map_err(|_| Answer::error(501, &format!("Method 'GET {path}' not implemented")))?;
    if !endpoint.path.ends_with("/vncwebsocket") {
        return Err(Answer::error(400, "WebSocket upgrade only on vncwebsocket"));
    }
    let mut all = params.clone();
    all.extend(vars.clone());
    shared
        .schema
        .validate(endpoint, &all)
        .map_err(super::Answer::params)?;
    let ticket = params.get("vncticket").cloned().unwrap_or_default();
    let vmid: u64 = vars.get("vmid").and_then(|v| v.parse().ok()).unwrap_or(0);
    let hostname = {
        let cluster = shared.cluster();
        if !cluster.tickets.contains(&ticket) {
            return Err(Answer::error(
                401,
                "permission denied - invalid PVEVNC ticket",
            ));
        }
        cluster
            .containers
            .get(&vmid)
            .map(|c| c.hostname.clone())
            .ok_or_else(|| Answer::error(500, &format!("CT {vmid} does not exist")))?
    };
    let key = req
        .headers()
        .get("sec-websocket-key")
        .map(|k| k.as_bytes().to_vec())
        .ok_or_else(|| Answer::error(400, "missing Sec-WebSocket-Key"))?;
    let accept = tokio_tungstenite::tungstenite::handshake::derive_accept_key(&key);
    let expected_login = format!("{}:{ticket}\n", shared.token_id);
    tokio::spawn(async move {
        let Ok(upgraded) = hyper::upgrade::on(req).await else {
            return;
        };
        let ws = tokio_tungstenite::WebSocketStream::from_raw_socket(
            TokioIo::new(upgraded),
            Role::Server,
            None,
        )
        .await;
        getty(ws, &expected_login, &hostname).await;
    });
    let mut response = Response::new(Full::new(Bytes::new()));
    *response.status_mut() = hyper::StatusCode::SWITCHING_PROTOCOLS;
    let headers = response.headers_mut();
    headers.insert(
        hyper::header::UPGRADE,
        hyper::header::HeaderValue::from_static("websocket"),
    );
    headers.insert(
        hyper::header::CONNECTION,
        hyper::header::HeaderValue::from_static("Upgrade"),
    );
    if let Ok(value) = hyper::header::HeaderValue::from_str(&accept) {
        headers.insert("sec-websocket-accept", value);
    }
    Ok(response)
}

/// The termproxy protocol on the double's side.
async fn getty<S>(ws: tokio_tungstenite::WebSocketStream<S>, expected_login: &str, hostname: &str)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let (mut tx, mut rx) = ws.split();
    let login = match rx.next().await {
        Some(Ok(Message::Text(t))) => t.as_str().to_owned(),
        Some(Ok(Message::Binary(b))) => String::from_utf8_lossy(&b).into_owned(),
        _ => return,
    };
    if login != expected_login {
        let _ = tx.close().await;
        return;
    }
    if tx.send(Message::Text("OK".into())).await.is_err() {
        return;
    }
    let prompt = format!("\r\nDebian GNU/Linux 12 {hostname} tty1\r\n\r\n{hostname} login: ");
    if tx
        .send(Message::Binary(prompt.into_bytes().into()))
        .await
        .is_err()
    {
        return;
    }
    while let Some(Ok(message)) = rx.next().await {
        let bytes = match message {
            Message::Binary(b) => b.to_vec(),
            Message::Text(t) => t.as_str().as_bytes().to_vec(),
            Message::Close(_) => break,
            _ => continue,
        };
        // `0:LEN:DATA` is input; `1:COLS:ROWS:` a resize and `2` a keep-alive need no answer.
        let Some(rest) = bytes.strip_prefix(b"0:") else {
            continue;
        };
        let Some(colon) = rest.iter().position(|b| *b == b':') else {
            continue;
        };
        let data = rest[colon + 1..].to_vec();
        if tx.send(Message::Binary(data.into())).await.is_err() {
            break;
        }
    }
}
