//! The nodes' SSH side for tests: a real OpenSSH `sshd` on a loopback port with its own host
//! key and one authorized client key, whose sessions run the command under a `pct` that hands
//! `pct exec` to the double (`POST /double/pct`). Every command line it receives is logged, so
//! tests can check what crossed the wire. Stopped and removed (directory, keys) when dropped.

use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use super::Double;

const SSHD: &str = "/usr/sbin/sshd";

#[derive(Debug, thiserror::Error)]
pub enum SshNodeError {
    #[error("{SSHD} is missing: install openssh-server (scripts/setup.sh)")]
    NoSshd,
    #[error("test sshd: {doing}: {source}")]
    Io {
        doing: String,
        #[source]
        source: std::io::Error,
    },
    #[error("test sshd: {0}")]
    Failed(String),
}

fn io(doing: &str) -> impl FnOnce(std::io::Error) -> SshNodeError + '_ {
    move |source| SshNodeError::Io {
        doing: doing.to_owned(),
        source,
    }
}

/// A running sshd standing in for every node of a double (they all resolve to 127.0.0.1).
pub struct SshNode {
    dir: PathBuf,
    child: Child,
    port: u16,
    host_key: String,
}

impl Drop for SshNode {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl SshNode {
    /// Starts sshd for `double` (as root: sshd changes to the logged-in user).
    pub fn start(double: &Double) -> Result<Self, SshNodeError> {
        if !Path::new(SSHD).exists() {
            return Err(SshNodeError::NoSshd);
        }
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "berth-sshd-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("bin")).map_err(io("creating its directory"))?;
        let guard = DirGuard(dir.clone());
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700))
            .map_err(io("chmod"))?;
        keygen(&dir.join("host_key"))?;
        keygen(&dir.join("id_ed25519"))?;
        let client_pub = read(&dir.join("id_ed25519.pub"))?;
        write(&dir.join("authorized_keys"), &client_pub, 0o600)?;
        let host_pub = read(&dir.join("host_key.pub"))?;
        let host_key = host_pub
            .split_whitespace()
            .take(2)
            .collect::<Vec<_>>()
            .join(" ");
        write(&dir.join("bin/pct"), &pct_script(double), 0o700)?;
        let session = format!(
            "#!/bin/sh\nprintf '%s\\n' \"$SSH_ORIGINAL_COMMAND\" >> {dir}/commands.log\n\
             PATH={dir}/bin:/usr/bin:/bin\nexport PATH\nexec /bin/sh -c \"$SSH_ORIGINAL_COMMAND\"\n",
            dir = dir.display()
        );
        write(&dir.join("session"), &session, 0o700)?;
        // sshd's privilege separation directory (the package makes it at boot).
        std::fs::create_dir_all("/run/sshd").map_err(io("creating /run/sshd"))?;
        let port = free_port()?;
        let config = format!(
            "Port {port}\nListenAddress 127.0.0.1\nHostKey {d}/host_key\nPidFile {d}/sshd.pid\n\
             AuthorizedKeysFile {d}/authorized_keys\nStrictModes no\nUsePAM no\n\
             PermitRootLogin prohibit-password\nPasswordAuthentication no\n\
             KbdInteractiveAuthentication no\nAllowUsers root\nForceCommand {d}/session\n",
            d = dir.display()
        );
        write(&dir.join("sshd_config"), &config, 0o600)?;
        let child = Command::new(SSHD)
            .args(["-D", "-e", "-f"])
            .arg(dir.join("sshd_config"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.join("sshd.log")).map_err(io("creating sshd.log"))?)
            .spawn()
            .map_err(io("starting sshd"))?;
        std::mem::forget(guard);
        let mut node = Self {
            dir,
            child,
            port,
            host_key,
        };
        node.wait_listening()?;
        Ok(node)
    }

    fn wait_listening(&mut self) -> Result<(), SshNodeError> {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                let log = read(&self.dir.join("sshd.log")).unwrap_or_default();
                return Err(SshNodeError::Failed(format!(
                    "sshd exited ({status}): {log}"
                )));
            }
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Err(SshNodeError::Failed(
            "sshd did not listen within 10 s".into(),
        ))
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The host's public key as `known_hosts` takes it: `ssh-ed25519 AAAA…`.
    pub fn host_key(&self) -> &str {
        &self.host_key
    }

    /// The private key sshd accepts for root (mode 0600).
    pub fn identity(&self) -> PathBuf {
        self.dir.join("id_ed25519")
    }

    /// A fresh key pair's public half, not this node's: for tests of a wrong pinned key.
    pub fn other_host_key(&self) -> Result<String, SshNodeError> {
        let path = self.dir.join("other_key");
        let _ = std::fs::remove_file(&path);
        let _ = std::fs::remove_file(path.with_extension("pub"));
        keygen(&path)?;
        let public = read(&path.with_extension("pub"))?;
        Ok(public
            .split_whitespace()
            .take(2)
            .collect::<Vec<_>>()
            .join(" "))
    }

    /// Every command line a session was given, in order.
    pub fn commands(&self) -> Vec<String> {
        read(&self.dir.join("commands.log"))
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    }
}

/// `pct` for the double: posts its arguments and stdin to `/double/pct`.
fn pct_script(double: &Double) -> String {
    format!(
        "#!/bin/sh\n# pct for Berth's PVE double: hands the call to the double.\n\
         n=$#\nfor a in \"$@\"; do set -- \"$@\" --url-query \"arg=$a\"; done\nshift \"$n\"\n\
         out=$(curl -sS -k --fail-with-body -H 'Authorization: PVEAPIToken={id}={secret}' \
         --data-binary @- \"$@\" '{url}/double/pct' 2>&1)\n\
         rc=$?\n[ \"$rc\" = 0 ] && exit 0\nprintf '%s\\n' \"$out\" >&2\nexit 1\n",
        id = double.token_id(),
        secret = double.token_secret(),
        url = double.url(),
    )
}

struct DirGuard(PathBuf);

impl Drop for DirGuard {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn keygen(path: &Path) -> Result<(), SshNodeError> {
    let out = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "berth-test", "-f"])
        .arg(path)
        .output()
        .map_err(io("running ssh-keygen"))?;
    if !out.status.success() {
        return Err(SshNodeError::Failed(format!(
            "ssh-keygen: {}",
            String::from_utf8_lossy(&out.stderr)
        )));
    }
    Ok(())
}

fn read(path: &Path) -> Result<String, SshNodeError> {
    let mut text = String::new();
    std::fs::File::open(path)
        .and_then(|mut f| f.read_to_string(&mut text))
        .map_err(io("reading a file"))?;
    Ok(text)
}

fn write(path: &Path, text: &str, mode: u32) -> Result<(), SshNodeError> {
    let mut file = std::fs::File::create(path).map_err(io("writing a file"))?;
    file.write_all(text.as_bytes())
        .map_err(io("writing a file"))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).map_err(io("chmod"))
}

fn free_port() -> Result<u16, SshNodeError> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").map_err(io("finding a port"))?;
    Ok(listener.local_addr().map_err(io("finding a port"))?.port())
}
