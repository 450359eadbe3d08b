//! Operator mistakes with real processes: a second berthd on the same data dir, the same socket
//! or the same TCP port stops at once with a message naming the clash, and the running one is
//! not disturbed — same socket file, still answering, nothing of the second one left behind.

#[path = "common/real.rs"]
mod real;

use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use real::{Error, RealDaemon, berthd_bin};

/// Runs a second berthd with `env` (on top of a private, unused network) and returns its exit
/// status and standard error; it must stop by itself within 30 s.
fn second(env: &[(&str, String)]) -> Result<(Option<i32>, String), Error> {
    let mut child = Command::new(berthd_bin())
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("BERTH_NETWORK__BRIDGE", "bt2ndx")
        .env("BERTH_NETWORK__TABLE", "berth_bt2ndx")
        .env("BERTH_NETWORK__IPV4", "10.249.249.1/24")
        .env("BERTH_NETWORK__IPV6", "")
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .args(["--config", "/dev/null"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()?;
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while child.try_wait()?.is_none() {
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err("the second berthd kept running".into());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output()?;
    Ok((
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    ))
}

fn inode(path: &Path) -> Result<u64, Error> {
    Ok(std::fs::metadata(path)?.ino())
}

#[test]
fn a_second_berthd_refuses_to_start_and_leaves_the_first_alone() -> Result<(), Error> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let listen = format!("[\"127.0.0.1:{port}\"]");
    let d = RealDaemon::start(&[("BERTH_LISTEN", &listen)])?;
    let socket_inode = inode(&d.socket())?;
    let scratch = tempfile::tempdir()?;
    let own = |what: &str| scratch.path().join(what).display().to_string();
    let cases = [
        (
            "the same data dir",
            vec![
                ("BERTH_DATA_DIR", d.data_dir.display().to_string()),
                ("BERTH_RUNTIME_DIR", own("run1")),
                ("BERTH_SOCKET", own("run1/berth.sock")),
                ("BERTH_LISTEN", "[]".to_owned()),
            ],
            "another berthd",
            own("run1/berth.sock"),
        ),
        (
            "the same socket",
            vec![
                ("BERTH_DATA_DIR", own("data2")),
                ("BERTH_RUNTIME_DIR", own("run2")),
                ("BERTH_SOCKET", d.socket().display().to_string()),
                ("BERTH_LISTEN", "[]".to_owned()),
            ],
            "serves the socket",
            String::new(),
        ),
        (
            "the same port",
            vec![
                ("BERTH_DATA_DIR", own("data3")),
                ("BERTH_RUNTIME_DIR", own("run3")),
                ("BERTH_SOCKET", own("run3/berth.sock")),
                ("BERTH_LISTEN", listen.clone()),
            ],
            &format!("binding http://127.0.0.1:{port}"),
            own("run3/berth.sock"),
        ),
    ];
    for (what, env, says, its_socket) in cases {
        let (code, stderr) = second(&env)?;
        assert_ne!(code, Some(0), "{what}: the second berthd started");
        assert!(stderr.contains(says), "{what}: {stderr}");
        if !its_socket.is_empty() {
            assert!(
                !Path::new(&its_socket).exists(),
                "{what}: it made its socket"
            );
        }
        // The first is untouched: the same socket file, answering on it and on its port.
        assert_eq!(
            inode(&d.socket())?,
            socket_inode,
            "{what}: the socket was replaced"
        );
        d.ok(&["list"])?;
        let answer = std::net::TcpStream::connect(("127.0.0.1", port));
        assert!(answer.is_ok(), "{what}: the port stopped answering");
    }
    Ok(())
}
