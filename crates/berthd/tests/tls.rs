//! A real berthd with an HTTPS listener and a self-signed certificate: the first admin's
//! password file, the socket's mode, and a login and an authenticated call over TLS with curl.

#[path = "common/real.rs"]
mod real;

use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::process::Command;

use real::{Error, RealDaemon};

fn curl(args: &[&str]) -> Result<(String, String), Error> {
    let out = Command::new("curl")
        .args(["-sk", "--max-time", "10", "-w", "\n%{http_code}"])
        .args(args)
        .output()?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, code) = text.rsplit_once('\n').ok_or("no status from curl")?;
    Ok((body.to_owned(), code.to_owned()))
}

#[test]
fn https_with_a_self_signed_certificate_and_a_bearer_token() -> Result<(), Error> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let listen = format!("[\"https://127.0.0.1:{port}\"]");
    let d = RealDaemon::start(&[("BERTH_LISTEN", &listen), ("BERTH_TLS", "self-signed")])?;
    let mode = |path: &std::path::Path| -> Result<u32, Error> {
        Ok(std::fs::metadata(path)?.permissions().mode() & 0o777)
    };
    let socket = d.socket();
    assert!(std::fs::metadata(&socket)?.file_type().is_socket());
    assert_eq!(
        mode(&socket)?,
        0o660,
        "the socket must not be world-accessible"
    );
    let password_file = d.data_dir.join("initial-admin-password");
    assert_eq!(mode(&password_file)?, 0o600);
    assert_eq!(mode(&d.data_dir.join("tls/key.pem"))?, 0o600);
    let password = std::fs::read_to_string(&password_file)?.trim().to_owned();
    assert!(
        d.log().contains("fingerprint"),
        "the certificate's fingerprint is logged"
    );

    let base = format!("https://127.0.0.1:{port}/api/v1");
    let (_, code) = curl(&[&format!("{base}/openapi.json")])?;
    assert_eq!(code, "200");
    let (body, code) = curl(&[&format!("{base}/instances")])?;
    assert_eq!(code, "401", "{body}");
    let login = serde_json::json!({"username": "admin", "password": password}).to_string();
    let (body, code) = curl(&[
        "-H",
        "content-type: application/json",
        "--data",
        &login,
        &format!("{base}/auth/login"),
    ])?;
    assert_eq!(code, "200", "{body}");
    let session: serde_json::Value = serde_json::from_str(&body)?;
    let token = session["access_token"].as_str().ok_or("no token")?;
    let (body, code) = curl(&[
        "-H",
        &format!("authorization: Bearer {token}"),
        &format!("{base}/auth/me"),
    ])?;
    assert_eq!(code, "200", "{body}");
    assert!(body.contains("\"admin\""), "{body}");
    let (body, code) = curl(&[
        "-H",
        &format!("authorization: Bearer {token}"),
        "-H",
        "content-type: application/json",
        "--data",
        r#"{"name": "ci"}"#,
        &format!("{base}/tokens"),
    ])?;
    assert_eq!(code, "201", "{body}");
    let created: serde_json::Value = serde_json::from_str(&body)?;
    let secret = created["secret"].as_str().ok_or("no secret")?;
    let (_, code) = curl(&[
        "-H",
        &format!("authorization: Bearer {secret}"),
        &format!("{base}/instances"),
    ])?;
    assert_eq!(code, "200");
    // Secrets never reach the log (the generated first password is logged once, by design).
    let log = d.log();
    for secret in [
        token,
        secret,
        session["refresh_token"].as_str().unwrap_or("-"),
    ] {
        assert!(!log.contains(secret), "a token is in the daemon log");
    }
    // Plain HTTP on the TLS port is not served.
    let (_, code) = curl(&[&format!("http://127.0.0.1:{port}/api/v1/openapi.json")])?;
    assert_ne!(code, "200");
    Ok(())
}
