//! The test suite's Python helpers (a venv made by scripts/setup.sh): Prometheus' own text
//! parser and a loopback SMTP server (aiosmtpd) that records what it receives.

#![allow(dead_code, reason = "each test file uses a different part")]

use std::io::Write;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

/// The venv's python (`BERTH_TEST_PYTHON` overrides).
pub fn python() -> PathBuf {
    std::env::var_os("BERTH_TEST_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| "/opt/berth-test/venv/bin/python3".into())
}

fn missing() -> String {
    format!(
        "{} is missing: run scripts/setup.sh (it makes the venv with prometheus_client and aiosmtpd)",
        python().display()
    )
}

/// Parses OpenMetrics `text` with `prometheus_client`'s parser; returns one line per sample,
/// `name{k=v,...} value`, sorted labels. Fails when the parser rejects the text.
pub fn parse_openmetrics(text: &str) -> Result<Vec<String>, String> {
    let script = r#"
import sys
from prometheus_client.openmetrics.parser import text_string_to_metric_families
for family in text_string_to_metric_families(sys.stdin.read()):
    for s in family.samples:
        labels = ",".join(f"{k}={v}" for k, v in sorted(s.labels.items()))
        print(f"{s.name}{{{labels}}} {s.value}")
"#;
    let mut child = Command::new(python())
        .args(["-c", script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("{}: {e}", missing()))?;
    child
        .stdin
        .take()
        .ok_or("no stdin")?
        .write_all(text.as_bytes())
        .map_err(|e| e.to_string())?;
    let out = child.wait_with_output().map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(format!(
            "prometheus_client rejected the text: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect())
}

/// A loopback SMTP server that writes every message it gets to a file; killed on drop.
pub struct SmtpServer {
    child: Child,
    pub port: u16,
    out: PathBuf,
    _dir: tempfile::TempDir,
}

/// How the test SMTP server protects its connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpMode {
    Plain,
    /// STARTTLS required before MAIL (and before AUTH).
    StartTls,
    /// TLS from the first byte.
    Tls,
}

impl SmtpServer {
    /// A plain server that takes any message.
    pub fn start() -> Result<Self, String> {
        Self::start_with(SmtpMode::Plain, None, None)
    }

    /// A server in `mode` with the PEM `cert` and `key` (for the TLS modes) that, with
    /// `login`, requires AUTH with exactly that username and password.
    pub fn start_with(
        mode: SmtpMode,
        cert_key: Option<(&std::path::Path, &std::path::Path)>,
        login: Option<(&str, &str)>,
    ) -> Result<Self, String> {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let out = dir.path().join("mail.txt");
        let port = free_port()?;
        let script = r#"
import ssl, sys, time
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
out, port, mode, cert, key, user, password = sys.argv[1:8]
class Capture:
    async def handle_DATA(self, server, session, envelope):
        with open(out, "a") as f:
            who = session.auth_data.login.decode() if session.auth_data else "-"
            f.write("AUTH " + who + "\nMAIL FROM " + envelope.mail_from + "\nRCPT TO " + ",".join(envelope.rcpt_tos) + "\n")
            f.write(envelope.content.decode("utf8", "replace") + "\n.\n")
        return "250 OK"
def authenticator(server, session, envelope, mechanism, auth_data):
    if auth_data.login.decode() == user and auth_data.password.decode() == password:
        return AuthResult(success=True, auth_data=auth_data)
    # An unhandled failure makes aiosmtpd send nothing; answer like a real server.
    return AuthResult(success=False, handled=False, message="535 5.7.8 Authentication credentials invalid")
kwargs = {}
if mode != "plain":
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
if mode == "starttls":
    kwargs.update(tls_context=ctx, require_starttls=True)
elif mode == "tls":
    kwargs.update(ssl_context=ctx)
if user:
    kwargs.update(authenticator=authenticator, auth_required=True,
                  auth_require_tls=(mode == "starttls"))
c = Controller(Capture(), hostname="127.0.0.1", port=int(port), **kwargs)
c.start()
print("ready", flush=True)
while True:
    time.sleep(3600)
"#;
        let (cert, key) = cert_key
            .map(|(c, k)| (c.display().to_string(), k.display().to_string()))
            .unwrap_or_default();
        let (user, password) = login.unwrap_or_default();
        let mode_arg = match mode {
            SmtpMode::Plain => "plain",
            SmtpMode::StartTls => "starttls",
            SmtpMode::Tls => "tls",
        };
        let mut child = Command::new(python())
            .args(["-u", "-c", script])
            .arg(&out)
            .arg(port.to_string())
            .args([mode_arg, &cert, &key, user, password])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("{}: {e}", missing()))?;
        let mut stdout = std::io::BufReader::new(child.stdout.take().ok_or("no stdout")?);
        let mut line = String::new();
        std::io::BufRead::read_line(&mut stdout, &mut line).map_err(|e| e.to_string())?;
        if line.trim() != "ready" {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("aiosmtpd did not start ({})", missing()));
        }
        Ok(Self {
            child,
            port,
            out,
            _dir: dir,
        })
    }

    /// Everything received so far.
    pub fn received(&self) -> String {
        std::fs::read_to_string(&self.out).unwrap_or_default()
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> Result<u16, String> {
    let l = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    Ok(l.local_addr().map_err(|e| e.to_string())?.port())
}
