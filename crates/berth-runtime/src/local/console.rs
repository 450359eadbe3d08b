//! The guest's `/dev/console`: a pty whose slave the supervisor gives the guest and whose
//! master it drains into a size-capped `console.log` (boot messages, a getty's prompt) and to
//! every viewer attached to its socket (`berth console`).

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use nix::fcntl::OFlag;
use nix::pty::{PtyMaster, grantpt, posix_openpt, ptsname_r, unlockpt};

use super::failed;
use super::guest::RunningGuest;
use crate::{RuntimeError, TerminalSession};

/// Bytes of console output kept before the log is rotated to `console.log.1`.
const LOG_CAP: u64 = 1 << 20;

#[derive(Debug, thiserror::Error)]
pub enum ConsoleError {
    #[error("cannot allocate a pty: {0}")]
    Pty(#[from] nix::Error),
    #[error("cannot open {path}: {source}")]
    Open {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

/// An open pty pair. The slave stays open here so the master never reads EIO while the guest
/// has no console open.
pub struct Console {
    master: PtyMaster,
    slave: File,
    pub slave_path: PathBuf,
}

impl Console {
    pub fn open() -> Result<Console, ConsoleError> {
        let master = posix_openpt(OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC)?;
        grantpt(&master)?;
        unlockpt(&master)?;
        let slave_path = PathBuf::from(ptsname_r(&master)?);
        let slave = OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(libc::O_NOCTTY | libc::O_CLOEXEC)
            .open(&slave_path)
            .map_err(|source| ConsoleError::Open {
                path: slave_path.clone(),
                source,
            })?;
        Ok(Console {
            master,
            slave,
            slave_path,
        })
    }

    /// A new descriptor of the slave, for the guest init's stdio.
    pub fn slave_fd(&self) -> io::Result<OwnedFd> {
        self.slave.as_fd().try_clone_to_owned()
    }

    /// Copies everything the guest writes to its console into `log` and to every viewer
    /// attached to `socket`, and viewers' keys to the console; threads of their own.
    pub fn serve(&self, log: PathBuf, socket: PathBuf) -> io::Result<()> {
        let viewers: Viewers = Arc::default();
        let fd = self.master.as_fd().try_clone_to_owned()?;
        let out = viewers.clone();
        std::thread::Builder::new()
            .name("console".into())
            .spawn(move || copy_capped(File::from(fd), &log, &out))?;
        let _ = fs::remove_file(&socket);
        // Viewers are a convenience: a socket that cannot be made (a path over the 108-byte
        // limit) must not keep the guest from booting.
        let listener = match UnixListener::bind(&socket) {
            Ok(listener) => listener,
            Err(e) => {
                tracing::warn!(socket = %socket.display(), error = %e, "no console viewers");
                return Ok(());
            }
        };
        fs::set_permissions(&socket, fs::Permissions::from_mode(0o600))?;
        let input = self.master.as_fd().try_clone_to_owned()?;
        std::thread::Builder::new()
            .name("console-viewers".into())
            .spawn(move || accept_viewers(&listener, &input, &viewers))?;
        Ok(())
    }
}

/// Attaches to `guest`'s console through its supervisor's socket (berthd's side).
pub async fn attach(guest: &RunningGuest<'_>) -> Result<TerminalSession, RuntimeError> {
    let socket = guest.paths.console_socket();
    let stream = tokio::net::UnixStream::connect(&socket)
        .await
        .map_err(|e| failed(guest.name, "console", format!("{}: {e}", socket.display())))?;
    Ok(TerminalSession::on_stream(stream))
}

/// Everyone attached to the console.
type Viewers = Arc<Mutex<Vec<UnixStream>>>;

fn accept_viewers(listener: &UnixListener, master: &OwnedFd, viewers: &Viewers) {
    for stream in listener.incoming().flatten() {
        let (Ok(reader), Ok(writer), Ok(keys)) =
            (stream.try_clone(), stream.try_clone(), master.try_clone())
        else {
            continue;
        };
        // A viewer that does not read is dropped rather than allowed to stall the guest.
        let _ = writer.set_write_timeout(Some(std::time::Duration::from_millis(200)));
        viewers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(writer);
        let _ = std::thread::Builder::new()
            .name("console-keys".into())
            .spawn(move || {
                let mut keys = File::from(keys);
                let _ = io::copy(&mut { reader }, &mut keys);
            });
    }
}

fn copy_capped(mut master: File, log: &Path, viewers: &Viewers) {
    let mut buf = [0u8; 4096];
    let mut out = open_log(log);
    let mut written = out
        .as_ref()
        .and_then(|f| f.metadata().ok())
        .map_or(0, |m| m.len());
    loop {
        let n = match master.read(&mut buf) {
            Ok(0) => return,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            // EIO: no slave open right now; the slave kept open makes this rare.
            Err(_) => {
                std::thread::sleep(std::time::Duration::from_millis(100));
                continue;
            }
        };
        if written + n as u64 > LOG_CAP {
            let _ = fs::rename(log, log.with_extension("log.1"));
            out = open_log(log);
            written = 0;
        }
        if let Some(f) = out.as_mut()
            && f.write_all(&buf[..n]).is_ok()
        {
            written += n as u64;
        }
        viewers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain_mut(|viewer| viewer.write_all(&buf[..n]).is_ok());
    }
}

fn open_log(path: &Path) -> Option<File> {
    OpenOptions::new().create(true).append(true).open(path).ok()
}
