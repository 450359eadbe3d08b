//! A berthd process on the sim backend (its own temp data dir, runtime dir and unix socket, no
//! TCP listener), spoken to over the socket as root: for tests that kill the daemon with
//! SIGKILL and start it again. Dropping it kills the process; the temp dir goes with it.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use serde_json::Value;

use super::ops::{Api, Error};

pub struct SimProcess {
    dir: tempfile::TempDir,
    child: Option<Child>,
}

impl SimProcess {
    /// Starts berthd with `failpoints` (`kind.step=pause`), once its socket answers.
    pub fn start(failpoints: &str) -> Result<Self, Error> {
        let dir = tempfile::tempdir()?;
        super::fake_image::fake_images(&dir.path().join("images"))?;
        let mut daemon = Self { dir, child: None };
        daemon.spawn(failpoints)?;
        Ok(daemon)
    }

    pub fn socket(&self) -> PathBuf {
        self.dir.path().join("run/berth.sock")
    }

    /// (Re)starts the process and waits until it answers.
    pub fn spawn(&mut self, failpoints: &str) -> Result<(), Error> {
        let root = self.dir.path();
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(root.join("berthd.log"))?;
        let child = Command::new(env!("CARGO_BIN_EXE_berthd"))
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("BERTH_LOG", "info,berthd=debug")
            .env("BERTH_DATA_DIR", root)
            .env("BERTH_RUNTIME_DIR", root.join("run"))
            .env("BERTH_SOCKET", self.socket())
            .env("BERTH_LISTEN", "[]")
            .env("BERTH_DEFAULT_BACKEND", "sim")
            .env("BERTH_TESTING__SIM_BACKEND", "true")
            .env("BERTH_STORAGE__DRIVER", "dir")
            .env("BERTH_AUTH__INITIAL_ADMIN_PASSWORD", super::ADMIN_PASSWORD)
            .env("BERTH_FAILPOINTS", failpoints)
            .arg("--config")
            .arg("/dev/null")
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()?;
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if request(&self.socket(), "GET", "/healthz", "", &[]).is_ok() {
                return Ok(());
            }
            if let Some(child) = self.child.as_mut()
                && let Some(status) = child.try_wait()?
            {
                return Err(format!("berthd exited with {status}: {}", self.log()).into());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Err(format!("berthd did not answer: {}", self.log()).into())
    }

    /// SIGKILL, as a crash would.
    pub fn kill9(&mut self) -> Result<(), Error> {
        if let Some(mut child) = self.child.take() {
            child.kill()?;
            child.wait()?;
        }
        Ok(())
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("berthd.log")).unwrap_or_default()
    }
}

impl Drop for SimProcess {
    fn drop(&mut self) {
        let _ = self.kill9();
    }
}

impl Api for SimProcess {
    async fn json(
        &self,
        method: &str,
        path: &str,
        body: Value,
    ) -> Result<(StatusCode, Value), Error> {
        let body = if body.is_null() {
            Vec::new()
        } else {
            body.to_string().into_bytes()
        };
        self.raw(method, path, "application/json", body).await
    }

    async fn raw(
        &self,
        method: &str,
        path: &str,
        content_type: &str,
        body: Vec<u8>,
    ) -> Result<(StatusCode, Value), Error> {
        let (socket, method, path, content_type) = (
            self.socket(),
            method.to_owned(),
            path.to_owned(),
            content_type.to_owned(),
        );
        tokio::task::spawn_blocking(move || {
            request(&socket, &method, &path, &content_type, &body).map_err(|e| e.to_string())
        })
        .await?
        .map_err(Into::into)
    }

    fn data(&self) -> &Path {
        self.dir.path()
    }
}

/// One HTTP/1.1 request over the unix socket (root: an admin), `Connection: close`.
fn request(
    socket: &Path,
    method: &str,
    path: &str,
    content_type: &str,
    body: &[u8],
) -> Result<(StatusCode, Value), Error> {
    let mut stream = UnixStream::connect(socket)?;
    stream.set_read_timeout(Some(Duration::from_secs(60)))?;
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: berthd\r\nConnection: close\r\n");
    if !body.is_empty() {
        head.push_str(&format!(
            "Content-Type: {content_type}\r\nContent-Length: {}\r\n",
            body.len()
        ));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes())?;
    stream.write_all(body)?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer)?;
    let split = answer
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or("no end of headers")?;
    let head = String::from_utf8_lossy(&answer[..split]).into_owned();
    let status: u16 = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("no status in {head:?}"))?;
    let mut body = answer[split + 4..].to_vec();
    if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        body = unchunk(&body)?;
    }
    let json = if body.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&body)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&body).into_owned()))
    };
    Ok((StatusCode::from_u16(status)?, json))
}

fn unchunk(mut raw: &[u8]) -> Result<Vec<u8>, Error> {
    let mut out = Vec::new();
    loop {
        let line = raw
            .windows(2)
            .position(|w| w == b"\r\n")
            .ok_or("bad chunk")?;
        let size = usize::from_str_radix(String::from_utf8_lossy(&raw[..line]).trim(), 16)?;
        raw = &raw[line + 2..];
        if size == 0 {
            return Ok(out);
        }
        out.extend_from_slice(raw.get(..size).ok_or("short chunk")?);
        raw = raw.get(size + 2..).ok_or("short chunk")?;
    }
}
