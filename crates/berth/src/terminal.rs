//! An interactive terminal over the console WebSocket (`berth console`, `berth exec -t`): the
//! local terminal in raw mode, keys to the guest, output to stdout, window size changes sent as
//! resize messages; `Ctrl-]` detaches. Returns the remote command's exit code.

use std::io::{IsTerminal, Write};
use std::os::fd::AsFd;

use anyhow::bail;
use berth_types::api::{ConsoleControl, ErrorBody};
use futures_util::{SinkExt, StreamExt};
use nix::sys::termios::{SetArg, Termios, cfmakeraw, tcgetattr, tcsetattr};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_tungstenite::tungstenite::{self, Message};

use crate::client::{Client, Connection};

/// The byte `Ctrl-]` sends.
const DETACH: u8 = 0x1d;

/// Puts the local terminal in raw mode until dropped.
struct RawMode(Option<Termios>);

impl RawMode {
    fn enter() -> Self {
        let stdin = std::io::stdin();
        if !stdin.is_terminal() {
            return Self(None);
        }
        let Ok(saved) = tcgetattr(stdin.as_fd()) else {
            return Self(None);
        };
        let mut raw = saved.clone();
        cfmakeraw(&mut raw);
        let _ = tcsetattr(stdin.as_fd(), SetArg::TCSANOW, &raw);
        Self(Some(saved))
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        if let Some(saved) = &self.0 {
            let _ = tcsetattr(std::io::stdin().as_fd(), SetArg::TCSANOW, saved);
        }
    }
}

/// The local terminal's size, or 24×80.
pub fn size() -> (u16, u16) {
    let mut ws = libc::winsize {
        ws_row: 0,
        ws_col: 0,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCGWINSZ writes one `winsize` into the pointer, valid for the call.
    let rc = unsafe { libc::ioctl(libc::STDOUT_FILENO, libc::TIOCGWINSZ, &mut ws) };
    if rc < 0 || ws.ws_row == 0 {
        (24, 80)
    } else {
        (ws.ws_row, ws.ws_col)
    }
}

/// Opens `/api/v1{path}` as a WebSocket and runs the session; the exit code comes back.
pub async fn attach(client: &Client, path: &str) -> anyhow::Result<i32> {
    session(open(client, path).await?).await
}

/// Opens `/api/v1{path}` as a WebSocket (with the token for a remote daemon); an error answer
/// becomes its message.
pub async fn open(
    client: &Client,
    path: &str,
) -> anyhow::Result<tokio_tungstenite::WebSocketStream<Box<dyn Connection>>> {
    let (stream, host, token) = client.connect().await?;
    let url = format!("ws://{host}/api/v1{path}");
    handshake(url, token.as_deref(), stream).await
}

async fn handshake<S: AsyncRead + AsyncWrite + Unpin>(
    url: String,
    token: Option<&str>,
    stream: S,
) -> anyhow::Result<tokio_tungstenite::WebSocketStream<S>> {
    use tungstenite::client::IntoClientRequest;
    let mut request = url.into_client_request()?;
    if let Some(token) = token {
        request
            .headers_mut()
            .insert("authorization", format!("Bearer {token}").parse()?);
    }
    match tokio_tungstenite::client_async(request, stream).await {
        Ok((socket, _)) => Ok(socket),
        Err(tungstenite::Error::Http(response)) => {
            let body = response.body().as_deref().unwrap_or_default();
            match serde_json::from_slice::<ErrorBody>(body) {
                Ok(err) => bail!("{}", err.error.message),
                Err(_) => bail!("berthd answered {}", response.status()),
            }
        }
        Err(e) => Err(e.into()),
    }
}

async fn session<S: AsyncRead + AsyncWrite + Unpin>(
    socket: tokio_tungstenite::WebSocketStream<S>,
) -> anyhow::Result<i32> {
    let (mut tx, mut rx) = socket.split();
    let raw = RawMode::enter();
    let (keys_tx, mut keys) = tokio::sync::mpsc::channel::<Vec<u8>>(16);
    // Reading stdin blocks; a thread of its own keeps it off the runtime.
    std::thread::spawn(move || {
        let mut stdin = std::io::stdin();
        let mut buf = [0u8; 4096];
        while let Ok(n) = std::io::Read::read(&mut stdin, &mut buf) {
            if n == 0 || keys_tx.blocking_send(buf[..n].to_vec()).is_err() {
                break;
            }
        }
    });
    let mut winch = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::window_change())?;
    let mut stdout = std::io::stdout();
    let code = loop {
        tokio::select! {
            message = rx.next() => match message {
                Some(Ok(Message::Binary(bytes))) => {
                    stdout.write_all(&bytes)?;
                    stdout.flush()?;
                }
                Some(Ok(Message::Text(text))) => {
                    if let Ok(ConsoleControl::Exit { code }) = serde_json::from_str(&text) {
                        break code;
                    }
                }
                Some(Ok(Message::Close(_))) | None => break -1,
                Some(Ok(_)) => {}
                Some(Err(e)) => {
                    drop(raw);
                    return Err(e.into());
                }
            },
            Some(bytes) = keys.recv() => {
                if let Some(at) = bytes.iter().position(|b| *b == DETACH) {
                    if at > 0 {
                        tx.send(Message::Binary(bytes[..at].to_vec().into())).await?;
                    }
                    drop(raw);
                    eprintln!("\r\n[detached]");
                    return Ok(0);
                }
                tx.send(Message::Binary(bytes.into())).await?;
            }
            _ = winch.recv() => {
                let (rows, cols) = size();
                let resize = serde_json::to_string(&ConsoleControl::Resize { rows, cols })?;
                tx.send(Message::Text(resize.into())).await?;
            }
        }
    };
    drop(raw);
    let _ = tx.close().await;
    Ok(code)
}
