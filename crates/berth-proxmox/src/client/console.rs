//! A container's console through PVE's termproxy: `POST …/termproxy` gives a port and ticket,
//! `GET …/vncwebsocket?port=&vncticket=` upgrades to a WebSocket. The client first sends
//! `USER:TICKET\n` (PVE answers `OK`), then keys as `0:LEN:DATA`, resizes as `1:COLS:ROWS:`
//! and keep-alives as `2`; everything PVE sends is the terminal's output.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};
use tokio::sync::{mpsc, oneshot};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;

use super::{Client, ProxmoxError};

/// An open console: read `output`, write keys to `input`, send `(cols, rows)` to `resize`;
/// `ended` fires when PVE closes it.
pub struct Terminal {
    pub output: DuplexStream,
    pub input: DuplexStream,
    pub resize: mpsc::UnboundedSender<(u16, u16)>,
    pub ended: oneshot::Receiver<()>,
}

const KEEPALIVE: Duration = Duration::from_secs(30);

impl Client {
    pub async fn open_terminal(&self, node: &str, vmid: u64) -> Result<Terminal, ProxmoxError> {
        let proxy = self.termproxy(node, vmid).await?;
        let path = format!("/nodes/{node}/lxc/{vmid}/vncwebsocket");
        let endpoint = format!("GET {path}");
        let refused = |cause: String| ProxmoxError::Api {
            endpoint: endpoint.clone(),
            status: 0,
            message: cause,
            errors: Default::default(),
        };
        let query = form_urlencoded::Serializer::new(String::new())
            .append_pair("port", &proxy.port.to_string())
            .append_pair("vncticket", &proxy.ticket)
            .finish();
        let url = format!(
            "wss://{}:{}{}/api2/json{path}?{query}",
            self.host, self.port, self.base_path
        );
        let mut request = url
            .into_client_request()
            .map_err(|e| refused(format!("building the WebSocket request: {e}")))?;
        let auth = HeaderValue::from_str(&self.authorization())
            .map_err(|_| ProxmoxError::Config("proxmox.token_secret: not a header value".into()))?;
        request.headers_mut().insert("authorization", auth);
        let stream = self.connect().await?;
        let handshake = tokio_tungstenite::client_async(request, stream);
        let (mut ws, _) = tokio::time::timeout(self.config.timeout, handshake)
            .await
            .map_err(|_| self.unreachable(format!("no WebSocket answer to {endpoint}")))?
            .map_err(|e| refused(format!("WebSocket: {e}")))?;
        let login = format!("{}:{}\n", proxy.user, proxy.ticket);
        ws.send(Message::Text(login.into()))
            .await
            .map_err(|e| refused(format!("sending the ticket: {e}")))?;
        let first = tokio::time::timeout(self.config.timeout, ws.next()).await;
        let ok = match first {
            Ok(Some(Ok(Message::Text(t)))) => t.as_str().starts_with("OK"),
            Ok(Some(Ok(Message::Binary(b)))) => b.starts_with(b"OK"),
            _ => false,
        };
        if !ok {
            return Err(refused("termproxy did not accept the ticket".into()));
        }
        let (out_ours, output) = tokio::io::duplex(64 * 1024);
        let (in_ours, input) = tokio::io::duplex(64 * 1024);
        let (resize, resizes) = mpsc::unbounded_channel();
        let (done, ended) = oneshot::channel();
        tokio::spawn(async move {
            pump(ws, out_ours, in_ours, resizes).await;
            let _ = done.send(());
        });
        Ok(Terminal {
            output,
            input,
            resize,
            ended,
        })
    }
}

/// Relays between the WebSocket and the local ends until either side closes.
async fn pump<S>(
    ws: tokio_tungstenite::WebSocketStream<S>,
    mut output: DuplexStream,
    mut input: DuplexStream,
    mut resizes: mpsc::UnboundedReceiver<(u16, u16)>,
) where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let (mut tx, mut rx) = ws.split();
    let mut buf = vec![0u8; 16 * 1024];
    let mut keepalive = tokio::time::interval(KEEPALIVE);
    keepalive.tick().await;
    loop {
        tokio::select! {
            message = rx.next() => match message {
                Some(Ok(Message::Binary(bytes))) => {
                    if output.write_all(&bytes).await.is_err() { break; }
                }
                Some(Ok(Message::Text(text))) => {
                    if output.write_all(text.as_bytes()).await.is_err() { break; }
                }
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => break,
                Some(Ok(_)) => {}
            },
            read = input.read(&mut buf) => match read {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    let mut frame = format!("0:{n}:").into_bytes();
                    frame.extend_from_slice(&buf[..n]);
                    if tx.send(Message::Binary(frame.into())).await.is_err() { break; }
                }
            },
            Some((cols, rows)) = resizes.recv() => {
                let frame = format!("1:{cols}:{rows}:");
                if tx.send(Message::Text(frame.into())).await.is_err() { break; }
            }
            _ = keepalive.tick() => {
                if tx.send(Message::Text("2".into())).await.is_err() { break; }
            }
        }
    }
    let _ = tx.close().await;
}
