//! Claims that keep a second berthd from disturbing a running one: an exclusive lock on the
//! data directory, taken before anything else is touched, and one on the socket's path, so
//! that only the holder may replace a stale socket. A live socket is never removed.

use std::fs::File;
use std::io::{Read, Seek, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// The lock file's name in the data directory.
pub const DATA_DIR_LOCK: &str = "berthd.lock";

#[derive(Debug, thiserror::Error)]
pub enum ClaimError {
    #[error(
        "another berthd{} is running on the data directory {dir} (it holds {lock}); stop it \
         first, or give this one its own data_dir"
    , pid_of(.pid))]
    DataDirBusy {
        dir: PathBuf,
        lock: PathBuf,
        pid: Option<u32>,
    },
    #[error(
        "another berthd{} serves the socket {path}; stop it first, or give this one its own \
         socket"
    , pid_of(.pid))]
    SocketBusy { path: PathBuf, pid: Option<u32> },
    #[error("{action} {path}")]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

fn pid_of(pid: &Option<u32>) -> String {
    pid.map(|p| format!(" (pid {p})")).unwrap_or_default()
}

fn io<'p>(action: &'static str, path: &'p Path) -> impl FnOnce(std::io::Error) -> ClaimError + 'p {
    move |source| ClaimError::Io {
        action,
        path: path.to_owned(),
        source,
    }
}

/// A held lock file (with this process's pid in it); released when dropped or at exit.
#[derive(Debug)]
pub struct Claim {
    _file: File,
}

/// Takes `path` exclusively without waiting; `Ok(None)` when another process holds it (its
/// pid, when it wrote one, comes back in the error the caller builds).
fn try_lock(path: &Path) -> Result<Result<Claim, Option<u32>>, ClaimError> {
    let mut file = File::options()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .custom_flags(libc::O_CLOEXEC)
        .open(path)
        .map_err(io("opening the lock file", path))?;
    // SAFETY: flock on a descriptor this function owns; no memory is passed.
    if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
        let err = std::io::Error::last_os_error();
        if err.raw_os_error() != Some(libc::EWOULDBLOCK) {
            return Err(io("locking", path)(err));
        }
        let mut text = String::new();
        let _ = file.read_to_string(&mut text);
        return Ok(Err(text.trim().parse().ok()));
    }
    file.set_len(0).map_err(io("writing", path))?;
    file.rewind().map_err(io("writing", path))?;
    writeln!(file, "{}", std::process::id()).map_err(io("writing", path))?;
    Ok(Ok(Claim { _file: file }))
}

/// Locks `data_dir` (creating it if there is none yet) for this process.
pub fn lock_data_dir(data_dir: &Path) -> Result<Claim, ClaimError> {
    std::fs::create_dir_all(data_dir).map_err(io("creating", data_dir))?;
    let lock = data_dir.join(DATA_DIR_LOCK);
    try_lock(&lock)?.map_err(|pid| ClaimError::DataDirBusy {
        dir: data_dir.to_owned(),
        lock: lock.clone(),
        pid,
    })
}

/// Locks the socket's path (through `SOCKET.lock` beside it) and makes sure no daemon answers
/// on it; a socket nobody answers on is stale and may then be replaced.
pub fn claim_socket(socket: &Path) -> Result<Claim, ClaimError> {
    if let Some(parent) = socket.parent() {
        std::fs::create_dir_all(parent).map_err(io("creating", parent))?;
    }
    let mut name = socket.as_os_str().to_owned();
    name.push(".lock");
    let lock = PathBuf::from(name);
    let claim = try_lock(&lock)?.map_err(|pid| ClaimError::SocketBusy {
        path: socket.to_owned(),
        pid,
    })?;
    match std::os::unix::net::UnixStream::connect(socket) {
        // Someone answers: a berthd of an older version (without this lock), or another program.
        Ok(_) => Err(ClaimError::SocketBusy {
            path: socket.to_owned(),
            pid: None,
        }),
        Err(_) => Ok(claim),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_claim_is_refused_with_the_holder_named() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let data = dir.path().join("data");
        let held = lock_data_dir(&data)?;
        // flock locks belong to the open file description: a second open is a second claimant.
        let err = lock_data_dir(&data).expect_err("held");
        let text = err.to_string();
        assert!(text.contains("another berthd"), "{text}");
        assert!(
            text.contains(&format!("pid {}", std::process::id())),
            "{text}"
        );
        drop(held);
        lock_data_dir(&data)?;

        std::fs::create_dir_all(dir.path().join("run"))?;
        let socket = dir.path().join("run/berth.sock");
        let _listener = std::os::unix::net::UnixListener::bind(&socket)?;
        let err = claim_socket(&socket).expect_err("someone answers");
        assert!(err.to_string().contains("serves the socket"), "{err}");
        let stale = dir.path().join("run/stale.sock");
        drop(std::os::unix::net::UnixListener::bind(&stale)?);
        let _claim = claim_socket(&stale)?;
        assert!(claim_socket(&stale).is_err(), "the socket's lock is held");
        Ok(())
    }
}
