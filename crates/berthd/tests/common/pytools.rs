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

impl SmtpServer {
    pub fn start() -> Result<Self, String> {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let out = dir.path().join("mail.txt");
        let port = free_port()?;
        let script = r#"
import sys, time
from aiosmtpd.controller import Controller
out, port = sys.argv[1], int(sys.argv[2])
class Capture:
    async def handle_DATA(self, server, session, envelope):
        with open(out, "a") as f:
            f.write("MAIL FROM " + envelope.mail_from + "\nRCPT TO " + ",".join(envelope.rcpt_tos) + "\n")
            f.write(envelope.content.decode("utf8", "replace") + "\n.\n")
        return "250 OK"
c = Controller(Capture(), hostname="127.0.0.1", port=port)
c.start()
print("ready", flush=True)
while True:
    time.sleep(3600)
"#;
        let mut child = Command::new(python())
            .args(["-u", "-c", script])
            .arg(&out)
            .arg(port.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("{}: {e}", missing()))?;
        let mut stdout = std::io::BufReader::new(child.stdout.take().ok_or("no stdout")?);
        let mut line = String::new();
        std::io::BufRead::read_line(&mut stdout, &mut line).map_err(|e| e.to_string())?;
        if line.trim() != "ready" {
            let _ = child.kill();
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
