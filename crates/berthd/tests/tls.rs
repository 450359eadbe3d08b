//! A real berthd with an HTTPS listener and a self-signed certificate: the first admin's
//! password file, the socket's mode, and a login and an authenticated call over TLS with curl.

#[path = "common/real.rs"]
mod real;

use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::process::{Command, Output};

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

/// The certificate fingerprint berthd logged: 32 hex pairs joined by colons.
fn logged_fingerprint(log: &str) -> Option<String> {
    let bytes = log.as_bytes();
    (0..bytes.len().saturating_sub(95)).find_map(|start| {
        let candidate = &log[start..start + 95];
        let ok = candidate.char_indices().all(|(i, c)| {
            if i % 3 == 2 {
                c == ':'
            } else {
                c.is_ascii_hexdigit()
            }
        });
        ok.then(|| candidate.to_owned())
    })
}

/// The CLI as a user elsewhere runs it: no socket, its own HOME, the password on stdin.
fn remote_cli(home: &std::path::Path, args: &[&str], stdin: &str) -> Result<Output, Error> {
    use std::io::Write;
    let mut child = Command::new(real::berth_bin())
        .env_clear()
        .env("HOME", home)
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()?;
    child
        .stdin
        .take()
        .ok_or("no stdin")?
        .write_all(stdin.as_bytes())?;
    Ok(child.wait_with_output()?)
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn berth_login_pins_the_certificate_and_saves_a_private_token() -> Result<(), Error> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let listen = format!("[\"https://127.0.0.1:{port}\"]");
    let d = RealDaemon::start(&[("BERTH_LISTEN", &listen), ("BERTH_TLS", "self-signed")])?;
    let password = std::fs::read_to_string(d.data_dir.join("initial-admin-password"))?
        .trim()
        .to_owned();
    let fingerprint = logged_fingerprint(&d.log()).ok_or("no fingerprint in the log")?;
    let home = tempfile::tempdir()?;
    let url = format!("https://127.0.0.1:{port}");
    let stdin = format!("{password}\n");

    // Without a fingerprint and no terminal to ask on, berth shows the one presented.
    let out = remote_cli(home.path(), &["login", &url, "-u", "admin"], &stdin)?;
    assert!(!out.status.success());
    assert!(stderr(&out).contains(&fingerprint), "{}", stderr(&out));
    // A wrong fingerprint is refused before the password is sent.
    let wrong = format!("00{}", &fingerprint[2..]);
    let out = remote_cli(
        home.path(),
        &["login", &url, "-u", "admin", "--fingerprint", &wrong],
        &stdin,
    )?;
    assert!(!out.status.success());
    assert!(stderr(&out).contains("--fingerprint"), "{}", stderr(&out));
    let remotes = home.path().join(".config/berth/remotes.json");
    assert!(!remotes.exists(), "nothing is saved by a failed login");
    // A wrong password: the server's one message for bad credentials.
    let out = remote_cli(
        home.path(),
        &["login", &url, "-u", "admin", "--fingerprint", &fingerprint],
        "not-the-password\n",
    )?;
    assert!(!out.status.success());
    assert!(!remotes.exists());

    let lower = fingerprint.to_lowercase().replace(':', "");
    let out = remote_cli(
        home.path(),
        &["login", &url, "-u", "admin", "--fingerprint", &lower],
        &stdin,
    )?;
    assert!(out.status.success(), "{}", stderr(&out));
    let mode = |p: &std::path::Path| -> Result<u32, Error> {
        Ok(std::fs::metadata(p)?.permissions().mode() & 0o777)
    };
    assert_eq!(mode(&remotes)?, 0o600);
    assert_eq!(mode(remotes.parent().ok_or("no dir")?)?, 0o700);
    let saved: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&remotes)?)?;
    let token = saved["remotes"][&url]["token"]
        .as_str()
        .ok_or("no saved token")?
        .to_owned();
    assert!(token.starts_with("berth_"));
    assert!(
        !std::fs::read_to_string(&remotes)?.contains(&password),
        "the password is not saved"
    );

    // The saved remote is now the default: no --remote needed.
    let out = remote_cli(home.path(), &["whoami", "--format", "json"], "")?;
    assert!(out.status.success(), "{}", stderr(&out));
    let me: serde_json::Value = serde_json::from_slice(&out.stdout)?;
    assert_eq!(me["user"]["username"], "admin");
    assert_eq!(me["via"]["kind"], "token");
    let out = remote_cli(home.path(), &["list", "--format", "json"], "")?;
    assert!(out.status.success(), "{}", stderr(&out));

    // Accounts, tokens and the audit log through the same remote.
    let out = remote_cli(
        home.path(),
        &[
            "user",
            "add",
            "carol",
            "--max-instances",
            "2",
            "--max-memory",
            "2GiB",
        ],
        "Tulip-Harbour-Seven-41\n",
    )?;
    assert!(out.status.success(), "{}", stderr(&out));
    let out = remote_cli(home.path(), &["user", "list", "--format", "json"], "")?;
    let users: serde_json::Value = serde_json::from_slice(&out.stdout)?;
    let carol = users
        .as_array()
        .and_then(|u| u.iter().find(|u| u["username"] == "carol"))
        .ok_or("carol missing")?;
    assert_eq!(carol["quota"]["instances"], 2);
    assert_eq!(carol["quota"]["memory"], 2u64 << 30);
    let out = remote_cli(
        home.path(),
        &["user", "set", "carol", "--max-instances", "3"],
        "",
    )?;
    assert!(out.status.success(), "{}", stderr(&out));
    let out = remote_cli(
        home.path(),
        &["user", "set", "carol", "--max-memory", "lots"],
        "",
    )?;
    assert!(!out.status.success());
    assert!(stderr(&out).contains("--max-memory"), "{}", stderr(&out));
    let out = remote_cli(
        home.path(),
        &["token", "create", "ci", "--read-only", "--format", "json"],
        "",
    )?;
    assert!(out.status.success(), "{}", stderr(&out));
    let created: serde_json::Value = serde_json::from_slice(&out.stdout)?;
    assert_eq!(created["token"]["scope"], "read_only");
    let out = remote_cli(home.path(), &["token", "revoke", "ci"], "")?;
    assert!(out.status.success(), "{}", stderr(&out));
    let out = remote_cli(home.path(), &["audit", "--format", "json"], "")?;
    let audit: serde_json::Value = serde_json::from_slice(&out.stdout)?;
    let actions: Vec<&str> = audit
        .as_array()
        .ok_or("no audit array")?
        .iter()
        .filter_map(|e| e["action"].as_str())
        .collect();
    assert!(actions.contains(&"user.create"), "{actions:?}");
    assert!(!String::from_utf8_lossy(&out.stdout).contains("Tulip-Harbour-Seven-41"));
    let out = remote_cli(home.path(), &["user", "remove", "carol"], "")?;
    assert!(out.status.success(), "{}", stderr(&out));

    // Logout revokes the token on the server and forgets it here.
    let out = remote_cli(home.path(), &["logout"], "")?;
    assert!(out.status.success(), "{}", stderr(&out));
    let saved: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&remotes)?)?;
    assert!(saved["remotes"].get(&url).is_none());
    let (_, code) = curl(&[
        "-H",
        &format!("authorization: Bearer {token}"),
        &format!("{url}/api/v1/instances"),
    ])?;
    assert_eq!(code, "401", "a revoked token no longer works");
    Ok(())
}
