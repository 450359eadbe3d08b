//! The console WebSocket with a real guest and a real WebSocket client over berthd's unix
//! socket: type into a root shell and read the answer, resize, two viewers at once, exit codes,
//! exec mode, and the refusals (stopped instance, bad mode); a detached shell ends in the guest,
//! and SIGTERM ends berthd in bounded time with a shell attached.

#[path = "common/real.rs"]
mod real;

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use real::{Error, RealDaemon};
use tokio::net::UnixStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{WebSocketStream, client_async};

type Socket = WebSocketStream<UnixStream>;

async fn connect(d: &RealDaemon, path: &str) -> Result<Socket, Error> {
    let stream = UnixStream::connect(d.socket()).await?;
    let (socket, _) = client_async(format!("ws://localhost{path}"), stream).await?;
    Ok(socket)
}

/// Reads terminal output until it contains `want`; returns everything read.
async fn read_until(socket: &mut Socket, want: &str) -> Result<String, Error> {
    let mut seen = String::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while !seen.contains(want) {
        let next = tokio::time::timeout_at(deadline, socket.next())
            .await
            .map_err(|_| format!("no {want:?} within 20 s; got {seen:?}"))?;
        match next {
            Some(Ok(Message::Binary(bytes))) => seen.push_str(&String::from_utf8_lossy(&bytes)),
            Some(Ok(Message::Text(text))) => seen.push_str(&text),
            Some(Ok(_)) => {}
            other => {
                return Err(
                    format!("socket ended ({other:?}) waiting for {want:?}; got {seen:?}").into(),
                );
            }
        }
    }
    Ok(seen)
}

async fn type_line(socket: &mut Socket, line: &str) -> Result<(), Error> {
    socket
        .send(Message::Binary(format!("{line}\n").into_bytes().into()))
        .await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_websocket_client_types_into_a_root_shell() -> Result<(), Error> {
    let d = RealDaemon::start(&[])?;
    d.ensure_image()?;
    let name = d.name("con");
    d.ok(&["launch", "debian/12", &name, "--memory", "256MiB"])?;
    let path = format!("/api/v1/instances/{name}/console?mode=shell&rows=30&cols=100");

    d.exec(&name, &["systemctl", "is-system-running", "--wait"])?;
    let mut first = connect(&d, &path).await?;
    let mut second = connect(&d, &path).await?;
    type_line(&mut first, "hostname | tr a-z A-Z").await?;
    read_until(&mut first, &name.to_uppercase()).await?;
    type_line(&mut second, "echo $((6*7))-second").await?;
    read_until(&mut second, "42-second").await?;

    type_line(&mut first, "stty size").await?;
    read_until(&mut first, "30 100").await?;
    first
        .send(Message::Text(r#"{"resize":{"rows":50,"cols":132}}"#.into()))
        .await?;
    type_line(&mut first, "stty size").await?;
    read_until(&mut first, "50 132").await?;

    type_line(&mut first, "exit 7").await?;
    read_until(&mut first, r#"{"exit":{"code":7}}"#).await?;
    type_line(&mut second, "exit 0").await?;
    read_until(&mut second, r#"{"exit":{"code":0}}"#).await?;

    let command = r#"["sh","-c","tty >/dev/null && echo on-a-tty"]"#;
    let exec_path = format!(
        "/api/v1/instances/{name}/console?mode=exec&command={}",
        command
            .bytes()
            .map(|b| if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            })
            .collect::<String>()
    );
    let mut exec = connect(&d, &exec_path).await?;
    let seen = read_until(&mut exec, r#"{"exit":{"code":0}}"#).await?;
    assert!(seen.contains("on-a-tty"), "{seen:?}");

    // The CLI on a real terminal (script(1) gives it a pty): output, and the exit code.
    let cli = format!(
        "{} --socket {} exec -t {name} -- sh -c 'tty >/dev/null && echo via-cli; exit 3'",
        real::berth_bin().display(),
        d.socket().display()
    );
    let out = std::process::Command::new("timeout")
        .args(["30", "script", "-qec", &cli, "/dev/null"])
        .stdin(std::process::Stdio::null())
        .output()?;
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("via-cli"),
        "{out:?}"
    );

    let bad = connect(&d, &format!("/api/v1/instances/{name}/console?mode=bogus")).await;
    assert!(
        bad.is_err_and(|e| e.to_string().contains("400")),
        "bad mode is a 400"
    );
    d.ok(&["stop", "--force", &name])?;
    let stopped = connect(&d, &path).await;
    assert!(
        stopped.is_err_and(|e| e.to_string().contains("409")),
        "a stopped instance is a 409"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn the_guest_console_shows_its_login_prompt_to_every_viewer() -> Result<(), Error> {
    let d = RealDaemon::start(&[])?;
    d.ensure_image()?;
    let name = d.name("tty");
    let password = "Console!pass-42";
    d.ok(&[
        "launch",
        "debian/12",
        &name,
        "--memory",
        "256MiB",
        "--password",
        password,
    ])?;
    d.exec(&name, &["systemctl", "is-system-running", "--wait"])?;
    let path = format!("/api/v1/instances/{name}/console");
    let mut first = connect(&d, &path).await?;
    let mut second = connect(&d, &path).await?;
    first.send(Message::Binary(b"\r".to_vec().into())).await?;
    read_until(&mut first, "login:").await?;
    read_until(&mut second, "login:").await?;
    for line in ["root", password] {
        first
            .send(Message::Binary(format!("{line}\r").into_bytes().into()))
            .await?;
        if line == "root" {
            read_until(&mut first, "assword:").await?;
        }
    }
    read_until(&mut first, "#").await?;
    first
        .send(Message::Binary(b"hostname | tr a-z A-Z\r".to_vec().into()))
        .await?;
    let upper = name.to_uppercase();
    read_until(&mut first, &upper).await?;
    read_until(&mut second, &upper)
        .await
        .map_err(|e| format!("the second viewer: {e}"))?;
    first
        .send(Message::Binary(b"exit\r".to_vec().into()))
        .await?;
    read_until(&mut second, "login:").await?;
    Ok(())
}

/// `berth console` (the guest's own console) and `console --shell` (a pty shell) on every
/// usable local backend besides builtin (covered above).
#[tokio::test(flavor = "multi_thread")]
async fn console_and_shell_work_on_every_local_backend() -> Result<(), Error> {
    let d = RealDaemon::start(&[])?;
    d.ensure_image()?;
    let system = d.json(&["system"])?;
    let usable: Vec<String> = system["backends"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|b| b["usable"] == true)
        .filter_map(|b| b["name"].as_str().map(str::to_owned))
        .filter(|b| ["nspawn", "oci", "lxc"].contains(&b.as_str()))
        .collect();
    for backend in usable {
        let name = d.name(&format!("c{backend}"));
        d.ok(&[
            "launch",
            "debian/12",
            &name,
            "--memory",
            "256MiB",
            "--backend",
            &backend,
        ])?;
        d.exec(&name, &["systemctl", "is-system-running", "--wait"])?;
        let shell = format!("/api/v1/instances/{name}/console?mode=shell&rows=30&cols=100");
        let mut socket = connect(&d, &shell).await?;
        // Type once the shell is there: a terminal that switches modes drops early input.
        read_until(&mut socket, "# ")
            .await
            .map_err(|e| format!("{backend} shell prompt: {e}"))?;
        type_line(&mut socket, "hostname | tr a-z A-Z").await?;
        read_until(&mut socket, &name.to_uppercase())
            .await
            .map_err(|e| format!("{backend} shell: {e}"))?;
        type_line(&mut socket, "exit").await?;
        let mut console = connect(&d, &format!("/api/v1/instances/{name}/console")).await?;
        console.send(Message::Binary(b"\r".to_vec().into())).await?;
        read_until(&mut console, "login:")
            .await
            .map_err(|e| format!("{backend} console: {e}"))?;
        drop(console);
        d.ok(&["delete", "--force", &name])?;
    }
    Ok(())
}

/// Reads terminal output until `found` finds something in it.
async fn read_for<T>(socket: &mut Socket, found: impl Fn(&str) -> Option<T>) -> Result<T, Error> {
    let mut seen = String::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(value) = found(&seen) {
            return Ok(value);
        }
        match tokio::time::timeout_at(deadline, socket.next()).await {
            Ok(Some(Ok(Message::Binary(bytes)))) => seen.push_str(&String::from_utf8_lossy(&bytes)),
            Ok(Some(Ok(_))) => {}
            other => return Err(format!("no match in {seen:?} ({other:?})").into()),
        }
    }
}

/// The shell's pid in the guest, from the output of `echo SHELL-$$-PID` (not its echo).
fn shell_pid(seen: &str) -> Option<u32> {
    seen.split("SHELL-")
        .filter_map(|rest| rest.split_once("-PID"))
        .find_map(|(pid, _)| pid.parse().ok())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_detached_shell_ends_and_sigterm_ends_berthd_with_a_shell_attached() -> Result<(), Error>
{
    let mut d = RealDaemon::start(&[])?;
    d.ensure_image()?;
    let name = d.name("detach");
    d.ok(&["launch", "debian/12", &name, "--memory", "256MiB"])?;
    d.exec(&name, &["systemctl", "is-system-running", "--wait"])?;
    let path = format!("/api/v1/instances/{name}/console?mode=shell");

    let mut shell = connect(&d, &path).await?;
    type_line(&mut shell, "echo SHELL-$$-PID").await?;
    let pid = read_for(&mut shell, shell_pid).await?.to_string();
    let (code, _) = d.exec(&name, &["kill", "-0", &pid])?;
    assert_eq!(code, 0, "the shell {pid} runs");
    // The viewer goes away without a word (a closed browser tab): the shell must end too.
    drop(shell);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while d.exec(&name, &["kill", "-0", &pid])?.0 == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the root shell {pid} still runs in the guest 10 s after its viewer left"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // A shell attached and busy does not hold berthd up: SIGTERM ends it in bounded time
    // (shutdown_timeout_seconds, 10, plus 2 s for leftover work).
    let mut attached = connect(&d, &path).await?;
    type_line(&mut attached, "echo SHELL-$$-PID; sleep 600").await?;
    read_for(&mut attached, shell_pid).await?;
    let took = d.terminate(Duration::from_secs(20))?;
    eprintln!("berthd exited {took:?} after SIGTERM with a shell attached");
    assert!(took < Duration::from_secs(14), "SIGTERM took {took:?}");
    drop(attached);
    // Instances keep running without berthd; a new one finds them (and cleans up after us).
    d.spawn(&[])?;
    let (code, _) = d.exec(&name, &["true"])?;
    assert_eq!(code, 0);
    Ok(())
}
